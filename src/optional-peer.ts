/**
 * Loading the stores that need an optional peer dependency (`better-sqlite3`, `pg`), with an
 * error that says what to install when it is missing.
 *
 * @internal
 */

/** What to tell a user whose project lacks an optional peer dependency. */
export interface OptionalPeer {
  /** The sagaflow entry point that needs it, e.g. `sagaflow/sqlite`. */
  readonly entry: string;
  /** The package to install, e.g. `better-sqlite3`. */
  readonly peer: string;
  /** Said after the install command, e.g. where the types come from. */
  readonly hint?: string;
}

/** Whether `error` is Node's "package not found" for `peer` (ESM `import` of a bare specifier). */
export function isMissingPackage(error: unknown, peer: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    (message.includes(`'${peer}'`) || message.includes(`"${peer}"`))
  );
}

/** The error for a missing optional peer dependency: names the package and the command that installs it. */
export function missingPeerError(peer: OptionalPeer, cause: unknown): Error {
  const error = new Error(
    `${peer.entry} needs the package '${peer.peer}', which is not installed: run \`npm install ${peer.peer}\` in your project` +
      `${peer.hint === undefined ? '' : ` (${peer.hint})`}. It is an optional peer dependency of sagaflow, installed only by the projects that use ${peer.entry}.`,
    { cause },
  );
  (error as Error & { code: string }).code = 'SAGAFLOW_MISSING_PEER_DEPENDENCY';
  return error;
}

/**
 * Runs `load` (a dynamic `import` of the module that imports the peer) and turns Node's
 * "Cannot find package" for the peer into {@link missingPeerError}; other errors pass unchanged.
 */
export async function importWithPeer<T>(peer: OptionalPeer, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isMissingPackage(error, peer.peer)) throw missingPeerError(peer, error);
    throw error;
  }
}
