import type { CliIo } from './io.js';
import type { TextSink } from './progress.js';

/** What a password is replaced with in everything the CLI prints (as in a store's `description`). */
const MASK = '***';

/**
 * `scheme://user:password@host…`: the password runs to the last `@` before any whitespace, so a
 * password with an unencoded `@` (which makes the URL unparsable) is masked whole. Matched only up
 * to that `@` (see {@link maskUrlPasswords}), and with a bounded scheme (no real one is near 64
 * characters): unbounded, a text with a word boundary at every other character (`a.a.a.…`) was
 * scanned to its end from each.
 */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]{0,63}:\/\/[^\s:/?#@]*:)[^\s]*@/gi;
/** A run of text without whitespace. */
const WORD = /\S+/g;
/** `password=…` in a query string or a libpq keyword/value string. */
const PASSWORD_SETTING = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'"]+)/gi;

/**
 * A store URL (or anything the user passed as one) with its password masked, whether or not it
 * parses as a URL: for every message that quotes it.
 *
 * @example
 * maskUrl('postgres://app:S3CRET@db/app?schema=x') // 'postgres://app:***@db/app?schema=x'
 * maskUrl('postgres://app:p@ss@db:port/app')        // 'postgres://app:***@db:port/app' (does not parse, masked all the same)
 */
export function maskUrl(url: string): string {
  return maskSecrets(url);
}

/**
 * `text` with passwords masked: in URLs (`scheme://user:password@`), `password=` settings, and
 * every literal occurrence of the given secrets (the passwords of the store URLs the CLI was
 * given, which a driver's message may quote on their own).
 */
export function maskSecrets(text: string, secrets: readonly string[] = []): string {
  let masked = maskUrlPasswords(text).replace(PASSWORD_SETTING, `$1${MASK}`);
  for (const secret of secrets) if (masked.includes(secret)) masked = masked.split(secret).join(MASK);
  return masked;
}

/**
 * {@link URL_PASSWORD} masked in each run of text without whitespace, up to its last `@` (where the
 * password ends): the pattern alone looked for an `@` as far as the next whitespace from every
 * `scheme://user:` on the way, in quadratic time over a long run without one (compact JSON listing
 * many URLs with ports took a minute for 1.5 MB).
 */
function maskUrlPasswords(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(WORD, (word) => {
    const end = word.lastIndexOf('@') + 1;
    return end === 0 ? word : word.slice(0, end).replace(URL_PASSWORD, `$1${MASK}@`) + word.slice(end);
  });
}

/** Secrets shorter than this are masked only where they appear as a password, never as bare text. */
const MIN_LITERAL_SECRET = 4;

/**
 * The passwords in a store URL, as typed and percent-decoded, for {@link maskSecrets}; works on
 * URLs that do not parse.
 */
export function secretsOf(url: string): string[] {
  const found = new Set<string>();
  const userInfo = /^[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:([^\s]*)@/i.exec(url);
  if (userInfo?.[1] !== undefined) found.add(userInfo[1]);
  for (const match of url.matchAll(/\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&'"]+)/gi)) if (match[1] !== undefined) found.add(match[1].replace(/^'|'$/g, ''));
  for (const secret of [...found]) {
    try {
      found.add(decodeURIComponent(secret));
    } catch {
      // not percent-encoded
    }
  }
  return [...found].filter((secret) => secret.length >= MIN_LITERAL_SECRET);
}

/**
 * The store URLs a command line names: `--store URL`, `--store=URL` and `$SAGAFLOW_STORE`.
 * Read before parsing, so that even a usage error that quotes them is masked.
 */
export function storeUrlsOf(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const urls: string[] = [];
  argv.forEach((argument, index) => {
    if (argument === '--store' && argv[index + 1] !== undefined) urls.push(argv[index + 1] as string);
    else if (argument.startsWith('--store=')) urls.push(argument.slice('--store='.length));
  });
  const fromEnv = env['SAGAFLOW_STORE'];
  if (fromEnv !== undefined && fromEnv !== '') urls.push(fromEnv);
  return urls;
}

/**
 * The CLI's output boundary: everything written to stdout and stderr goes through
 * {@link maskSecrets} with the passwords of the store URLs on the command line, so no message,
 * whoever wrote it (the CLI, a driver, commander, a stack trace), prints one.
 */
export function maskingIo(io: CliIo, secrets: readonly string[]): CliIo {
  return { stdout: maskingSink(io.stdout, secrets), stderr: maskingSink(io.stderr, secrets) };
}

function maskingSink(sink: TextSink, secrets: readonly string[]): TextSink {
  // The sink's other members (isTTY, columns: getters on a process stream) are inherited as they are.
  return Object.create(sink, { write: { value: (text: string): unknown => sink.write(maskSecrets(text, secrets)) } }) as TextSink;
}
