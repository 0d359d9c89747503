/** Characters a POSIX shell (or zsh) reads as part of a plain word: nothing to split, glob or expand. */
const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/**
 * `text` as one word for a POSIX shell (sh, bash, zsh): unchanged when it holds only characters
 * no shell treats specially, single-quoted otherwise (a `'` inside written `'\''`). For the
 * commands the CLI prints for a user to paste: a store URL such as
 * `postgres://app:***@db/app?schema=orders&sslmode=require` (a glob for zsh, a background job
 * for bash) or a module path holding a space.
 *
 * @example
 * shellWord('sqlite:.sagaflow/sagaflow.db')        // 'sqlite:.sagaflow/sagaflow.db'
 * shellWord('postgres://app@db/app?schema=orders') // "'postgres://app@db/app?schema=orders'"
 */
export function shellWord(text: string): string {
  return PLAIN_WORD.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
