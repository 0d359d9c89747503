// The page's only ways of making nodes: text is always a text node (textContent), never markup.

const SVG = 'http://www.w3.org/2000/svg';

/** Attributes of an element; `undefined` and `false` leave one out. */
export type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** An HTML element with attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: ReadonlyArray<Node | string>): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  element.append(...children);
  return element;
}

/** An SVG element with attributes and children (strings become text nodes). */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: ReadonlyArray<Node | string>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  setAttributes(element, attributes);
  element.append(...children);
  return element;
}

function setAttributes(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
}

/** The element with this id (the page's frame has them all). */
export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`The page has no #${id}.`);
  return element as T;
}

/** JSON as the panels show it: indented; `undefined` as the word. */
export function json(value: unknown): string {
  return value === undefined ? 'undefined (no output)' : JSON.stringify(value, null, 2);
}

/** A duration in words: 850 ms, 1.2 s, 3 min 4 s. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** A date and time with milliseconds, in the browser's time zone (`2026-12-05 03:16:58.875`). */
export function clock(at: number): string {
  // Written out by hand: the first toLocale…String() of a page loads the locale data, which costs
  // more than drawing a 200-stage run.
  const date = new Date(at);
  const two = (value: number): string => String(value).padStart(2, '0');
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`
  );
}

/**
 * A button that shows and hides what `content` makes, made the first time it is opened: cheaper
 * than `<details>` (no shadow tree each) when a page holds hundreds of them, as a long journal does.
 */
export function disclosure(label: ReadonlyArray<Node | string>, content: () => Node, options: { readonly open?: boolean; readonly attributes?: Attributes } = {}): HTMLElement {
  const button = h('button', { type: 'button', class: 'disclose', 'aria-expanded': 'false' }, ...label);
  const wrapper = h('div', { class: 'disclosure', ...options.attributes }, button);
  let body: Node | undefined;
  const show = (open: boolean): void => {
    button.setAttribute('aria-expanded', String(open));
    if (open) wrapper.append((body ??= content()));
    else if (body !== undefined) wrapper.removeChild(body);
  };
  button.addEventListener('click', () => show(button.getAttribute('aria-expanded') !== 'true'));
  if (options.open === true) show(true);
  return wrapper;
}
