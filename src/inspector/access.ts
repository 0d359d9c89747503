import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { cookie, cookiesOf } from './http.js';

/** What {@link Access.admit} decided about a request. */
export type Admission =
  | { readonly kind: 'admitted'; readonly session: string; readonly setCookies: readonly string[] }
  | { readonly kind: 'refused'; readonly status: number; readonly message: string }
  /** The token came in the URL: keep it in a cookie and go to the same page without it. */
  | { readonly kind: 'redirect'; readonly location: string; readonly setCookies: readonly string[] };

/** The header an action carries its session's token in. */
export const CSRF_HEADER = 'x-sagaflow-csrf';

/**
 * Who may use the inspector, and which requests may act on runs.
 *
 * @remarks
 * - With a `token`, every request must prove it: `Authorization: Bearer TOKEN`, or once
 *   `?token=TOKEN` was opened in the browser, a cookie that holds a proof of it (never the token).
 * - `allowedHosts` (when given) are the only `Host` names answered: a page of another site whose
 *   name was pointed at 127.0.0.1 (DNS rebinding) gets nothing.
 * - Each browser gets a session (a random cookie) and the page a token derived from it; an action
 *   must carry that token in a header and, when the browser names its origin, come from this
 *   origin. Another site can neither read the token nor send the header.
 */
export class Access {
  private readonly secret = randomBytes(32);
  /** Cookie names carry an id per inspector, so that two inspectors on one host (other ports) keep theirs apart. */
  private readonly suffix = createHash('sha256').update(this.secret).digest('hex').slice(0, 8);
  private readonly sessionCookie = `sagaflow_session_${this.suffix}`;
  private readonly authCookie = `sagaflow_auth_${this.suffix}`;
  private readonly proof: string | undefined;

  /**
   * @param token - the token every request must prove (none: anyone who reaches the server).
   * @param allowedHosts - the host names (no port) that may appear in `Host` (none: any).
   */
  constructor(
    private readonly token: string | undefined,
    private readonly allowedHosts: ReadonlySet<string> | undefined,
  ) {
    this.proof = token === undefined ? undefined : this.sign(`auth\u0000${token}`);
  }

  /** Lets a request in, or says why not. */
  admit(req: IncomingMessage, url: URL): Admission {
    if (this.allowedHosts !== undefined && !this.allowedHosts.has(hostName(req.headers.host ?? ''))) {
      return { kind: 'refused', status: 421, message: `This inspector does not answer for the host '${req.headers.host ?? ''}': open it by the address it printed.` };
    }
    const cookies = cookiesOf(req);
    const { session, setCookies } = this.sessionOf(cookies);
    if (this.token !== undefined && this.proof !== undefined) {
      const fromUrl = url.searchParams.get('token');
      if (fromUrl !== null && req.method === 'GET') {
        if (!same(fromUrl, this.token)) return { kind: 'refused', status: 401, message: 'The token in the address is not this inspector’s token.' };
        url.searchParams.delete('token');
        const rest = url.searchParams.toString();
        const page = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
        return { kind: 'redirect', location: `./${page}${rest === '' ? '' : `?${rest}`}`, setCookies: [cookie(this.authCookie, this.proof), ...setCookies] };
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const authorized = bearer === undefined ? same(cookies.get(this.authCookie) ?? '', this.proof) : same(bearer, this.token);
      if (!authorized) {
        return { kind: 'refused', status: 401, message: 'This inspector needs its token: open the address it printed, with ?token=…, or send Authorization: Bearer TOKEN.' };
      }
    }
    return { kind: 'admitted', session, setCookies };
  }

  /** The token the page of `session` sends with its actions. */
  csrfToken(session: string): string {
    return this.sign(`csrf\u0000${session}`);
  }

  /**
   * Checks that an action comes from this inspector's own page: same origin (when the browser
   * says), and the session's token in its header.
   *
   * @returns why it is refused, or `undefined` when it may go ahead.
   */
  checkAction(req: IncomingMessage, session: string): string | undefined {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        return `the request came from the origin '${origin}', not from this inspector`;
      }
      if (host !== req.headers.host) return `the request came from ${origin}, not from this inspector`;
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return `the browser says the request came from another site (${String(site)})`;
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || session === '' || !same(sent, this.csrfToken(session))) {
      return 'the request does not carry this session’s token: reload the page and try again';
    }
    return undefined;
  }

  /** The browser's session, or a new one with the cookie that starts it. */
  private sessionOf(cookies: ReadonlyMap<string, string>): { session: string; setCookies: string[] } {
    const existing = cookies.get(this.sessionCookie);
    if (existing !== undefined && /^[\w-]{16,64}$/.test(existing)) return { session: existing, setCookies: [] };
    const fresh = randomBytes(18).toString('base64url');
    return { session: fresh, setCookies: [cookie(this.sessionCookie, fresh)] };
  }

  private sign(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('base64url');
  }
}

/** Compares two secrets in constant time. */
function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The name part of a `Host` header (`[::1]:8080` → `[::1]`, `localhost:80` → `localhost`). */
function hostName(host: string): string {
  const match = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(host.trim().toLowerCase());
  return match?.[1] ?? '';
}
