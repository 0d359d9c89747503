/** Markup built by {@link html}: its interpolations are escaped already. */
export class SafeHtml {
  /** @param text - markup known to be safe. */
  constructor(readonly text: string) {}

  /** The markup. */
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML text or attribute value: every character that markup could read is escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/** What may stand in an {@link html} template: text (escaped), numbers, markup, lists of them, or nothing. */
export type HtmlValue = string | number | SafeHtml | undefined | false | readonly HtmlValue[];

/**
 * A template of markup whose every interpolation is escaped, unless it is markup made here.
 *
 * @remarks
 * The only way the server writes HTML: a run id, a saga name or a status from the store is text,
 * always. `undefined` and `false` write nothing (for `cond && html…`).
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

function render(value: HtmlValue): string {
  if (value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return escapeHtml(value);
  return value.map(render).join('');
}
