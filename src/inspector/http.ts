import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Headers on every answer: nothing here may be framed, sniffed or sent on as a referrer, and a page
 * runs only the inspector's own script and style (no inline code, nothing from another origin).
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Writes a complete answer with the security headers. */
export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Readonly<Record<string, string | readonly string[]>> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Readonly<Record<string, string | readonly string[]>> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

/** Writes a plain-text answer (errors for clients that are not the page). */
export function sendText(res: ServerResponse, status: number, text: string, headers: Readonly<Record<string, string | readonly string[]>> = {}): void {
  send(res, status, 'text/plain; charset=utf-8', `${text}\n`, headers);
}

/** Starts a server-sent event stream. */
export function startEventStream(res: ServerResponse): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // A reverse proxy must pass each message on at once, not buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
}

/** A request body larger than this is refused: actions carry a run id and a reason. */
const BODY_LIMIT = 16 * 1024;

/** A request body read whole, or refused for its size (then the request is answered 413). */
export type RequestBody = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'too-large'; readonly limit: number };

/**
 * Reads a request body as text, up to {@link BODY_LIMIT} bytes.
 *
 * @remarks
 * A larger body (by its `Content-Length`, or as it arrives) is not kept: the rest of it is drained
 * so that the connection can still carry the 413 answer, which should close it.
 */
export function readBody(req: IncomingMessage): Promise<RequestBody> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > BODY_LIMIT) {
    req.resume();
    return Promise.resolve({ kind: 'too-large', limit: BODY_LIMIT });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > BODY_LIMIT) return;
      size += chunk.length;
      if (size > BODY_LIMIT) {
        chunks.length = 0;
        resolve({ kind: 'too-large', limit: BODY_LIMIT });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve({ kind: 'text', text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', reject);
  });
}

/** The request's cookies by name (the first of a repeated name wins). */
export function cookiesOf(req: IncomingMessage): ReadonlyMap<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(at + 1).trim());
  }
  return cookies;
}

/** One `Set-Cookie` value: HTTP-only, never sent by another site's requests. */
export function cookie(name: string, value: string): string {
  return `${name}=${value}; HttpOnly; SameSite=Strict`;
}
