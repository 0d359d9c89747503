import { catchError, EMPTY, endWith, ignoreElements, map, of, switchMap, takeUntil, timer } from 'rxjs';
import { quoteName } from '../definition/identifier.js';
import type { SagaRun } from '../runtime/saga-run.js';

/** How long, in real milliseconds, a run may wait unanswered before the harness warns. Default of `SagaTestOptions.unansweredSignalWarningMs`. */
export const UNANSWERED_SIGNAL_WARNING_MS = 2_000;

/**
 * Warns (with `warn`, `console.warn` in the harness) when `run` has waited `afterMs` of real
 * time, with no event in between, on a signal wait that has no timeout and whose signal
 * `answered` does not hold: a test that forgot `run()`'s `signals` would otherwise hang, silent,
 * until its test runner's timeout. Nothing is changed: the run keeps waiting (a test may send the
 * signal itself, with `h.signal`). Stops with the run's events.
 *
 * @internal
 */
export function warnOfUnansweredSignals(run: SagaRun<unknown>, saga: string, answered: ReadonlySet<string>, afterMs: number, warn: (message: string) => void): void {
  // Past what one Node timer holds (Infinity included), never: such a timer would fire at once.
  if (afterMs === 0 || afterMs > 2_147_483_647) return;
  /** The waits that only an unanswered signal can end: signal by stage. */
  const unanswered = new Map<string, string>();
  const ended$ = run.events$.pipe(
    ignoreElements(),
    endWith(true),
    catchError(() => of(true)),
  );
  run.events$
    .pipe(
      map((event) => {
        if (event.type === 'wait.started') {
          if (event.kind === 'signal' && event.dueAt === undefined && event.signalId === undefined && event.signal !== undefined && !answered.has(event.signal)) {
            unanswered.set(event.stage, event.signal);
          }
        } else if (event.type === 'stage.completed' || event.type === 'stage.cancelled' || event.type === 'stage.failed') {
          unanswered.delete(event.stage);
        }
        return unanswered.size;
      }),
      // Each event starts the count again: a run still moving (another branch) is not stuck.
      switchMap((waiting) => (waiting === 0 ? EMPTY : timer(afterMs))),
      takeUntil(ended$),
      catchError(() => EMPTY),
    )
    .subscribe(() => {
      const waits = [...unanswered].map(([stage, signal]) => `signal ${quoteName(signal)} (stage ${quoteName(stage)})`).join(', ');
      warn(
        `sagaflow/testing: run ${run.runId} of saga ${quoteName(saga)} has waited ${afterMs} ms (real time) for ${waits}, with no timeoutMs, and run()'s signals option does not answer it: ` +
          `it waits until something sends it (h.signal(runId, name, payload)), or for ever. Pass signals: { name: payload } to run(), or give the wait a timeoutMs.`,
      );
    });
}
