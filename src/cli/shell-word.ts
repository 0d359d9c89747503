/** Characters a POSIX shell (or zsh) reads as part of a plain word: nothing to split, glob or expand. */
const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/** Characters a shell still reads inside double quotes (`!`: bash's history expansion). */
const DOUBLE_QUOTE_SPECIAL = /[$`\\"!]/;

/**
 * `text` as one word for a POSIX shell (sh, bash, zsh): unchanged when it holds only characters
 * no shell treats specially, double-quoted when that suffices (so that a command quoted in a
 * sentence between single quotes still reads as one), single-quoted otherwise (a `'` inside
 * written `'\''`). For the commands the CLI prints for a user to paste: a store URL such as
 * `postgres://app:***@db/app?schema=orders&sslmode=require` (a glob for zsh, a background job
 * for bash) or a module path holding a space.
 *
 * @example
 * shellWord('sqlite:.sagaflow/sagaflow.db')        // 'sqlite:.sagaflow/sagaflow.db'
 * shellWord('postgres://app@db/app?schema=orders') // '"postgres://app@db/app?schema=orders"'
 * shellWord('sqlite:$HOME/app.db')                 // "'sqlite:$HOME/app.db'"
 */
export function shellWord(text: string): string {
  if (PLAIN_WORD.test(text)) return text;
  if (!DOUBLE_QUOTE_SPECIAL.test(text)) return `"${text}"`;
  return `'${text.replaceAll("'", "'\\''")}'`;
}
