import { fileURLToPath } from 'node:url';
import type { AnySaga, SagaOutcome } from 'sagaflow';

/**
 * What the `sagaflow demo` command needs from a demo. The CLI reads this module at run time
 * (`dist/sagas/catalog.js`), so it declares the same shape on its side; a type test keeps the
 * two in step.
 */
export interface DemoDefinition {
  /** The name on the command line, e.g. `money-transfer`. */
  readonly name: string;
  /** One line saying what the demo shows. */
  readonly summary: string;
  /** The stages `--fail-at` accepts. */
  readonly failurePoints: readonly string[];
  /** Whether the demo has an `onFailure: 'pause'` variant (`--pause`). */
  readonly pausable: boolean;
  /** The module that exports the demo's sagas, for `--sagas` (resume, redrive, compensate, graph). */
  readonly sagasModule: string;
  /** Sets the demo's world up in the database a store URL names, and prepares one run. */
  open(options: DemoOptions): Promise<DemoSession>;
}

/** How to run a demo. */
export interface DemoOptions {
  /** Where the demo's outside systems keep their tables: a store URL (`memory:`, `sqlite:PATH`, `postgres://…`). */
  readonly database: string;
  /** The stage that fails, every attempt, while this process runs. */
  readonly failAt?: string;
  /** Run the `onFailure: 'pause'` variant. */
  readonly pause?: boolean;
}

/** One prepared demo run. */
export interface DemoSession {
  /** One line: what this run does. */
  readonly title: string;
  /** One line on the fault injected with `failAt`, if any. */
  readonly fault?: string;
  /** The saga to run. */
  readonly saga: AnySaga;
  /** Its input. */
  readonly input: unknown;
  /**
   * The state of the outside world, one line each (balances, bookings, stock): before the run
   * without an outcome, after it with the run's outcome.
   */
  describe(outcome?: SagaOutcome): Promise<readonly string[]>;
  /** Checks the demo's invariants after the run; every check says what it verified. */
  check(outcome: SagaOutcome): Promise<readonly DemoCheck[]>;
  /** Closes the world's database. */
  close(): Promise<void>;
}

/** One verified (or violated) invariant. */
export interface DemoCheck {
  /** Whether it holds. */
  readonly ok: boolean;
  /** What was checked, with the numbers. */
  readonly description: string;
}

/**
 * The path of a module next to `moduleUrl` (its `import.meta.url`), with the same extension:
 * `.ts` when the demos run from source, `.js` once built into `dist/sagas`.
 */
export function siblingModule(moduleUrl: string, name: string): string {
  const extension = moduleUrl.slice(moduleUrl.lastIndexOf('.'));
  return fileURLToPath(new URL(`./${name}${extension}`, moduleUrl));
}
