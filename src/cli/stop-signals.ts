/**
 * The exit code of a command stopped by a signal and leaving in good order: 128 + the signal's
 * number, as for a process the signal ended.
 */
export const STOPPED_EXIT_CODE: Readonly<Record<'SIGTERM' | 'SIGINT', number>> = { SIGTERM: 143, SIGINT: 130 };

/**
 * Calls `onSignal` on each SIGINT (Ctrl-C) and SIGTERM, instead of Node's default of dying at
 * once, until the returned function is called.
 */
export function onStopSignals(onSignal: (signal: NodeJS.Signals) => void): () => void {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
