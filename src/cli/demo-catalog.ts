import type { Saga, SagaOutcome } from '../index.js';

/**
 * A demo, as the CLI uses it. The demos live in `sagas/` (compiled to `dist/sagas/`) and are
 * ordinary code against the public API; the CLI loads their catalog at run time, so it declares
 * the shape it relies on here (a type test checks `sagas/catalog.ts` against it).
 */
export interface CliDemo {
  /** The name on the command line. */
  readonly name: string;
  /** One line saying what it shows. */
  readonly summary: string;
  /** The stages `--fail-at` accepts. */
  readonly failurePoints: readonly string[];
  /** Whether `--pause` is available. */
  readonly pausable: boolean;
  /** The path of the module exporting its sagas (for `--sagas`). */
  readonly sagasModule: string;
  /** Prepares a run on the database a store URL names. */
  open(options: { readonly database: string; readonly failAt?: string; readonly pause?: boolean }): Promise<CliDemoSession>;
}

/** One prepared demo run. */
export interface CliDemoSession {
  /** What this run does, in one line. */
  readonly title: string;
  /** The fault injected with `--fail-at`, in one line. */
  readonly fault?: string;
  /** The saga to run (any input and outputs). */
  readonly saga: Saga<unknown, Record<string, unknown>, unknown>;
  /** Its input. */
  readonly input: unknown;
  /** The outside world's state, before (no outcome) and after the run. */
  describe(outcome?: SagaOutcome): Promise<readonly string[]>;
  /** The demo's invariants after the run. */
  check(outcome: SagaOutcome): Promise<readonly { readonly ok: boolean; readonly description: string }[]>;
  /** Closes the demo's database. */
  close(): Promise<void>;
}

/**
 * Where the catalog is: next to the built CLI (`dist/cli` → `dist/sagas`), or in the source
 * tree when the CLI runs from `src/` through tsx.
 */
const CATALOG_URL = new URL(import.meta.url.endsWith('.ts') ? '../../sagas/catalog.ts' : '../sagas/catalog.js', import.meta.url);

/**
 * Loads the demos.
 *
 * @throws `Error` when this installation has no demos (a broken build).
 */
export async function loadDemos(): Promise<readonly CliDemo[]> {
  let catalog: { readonly demos?: unknown };
  try {
    catalog = (await import(CATALOG_URL.href)) as { readonly demos?: unknown };
  } catch (error) {
    throw new Error(`The demos could not be loaded from ${CATALOG_URL.href}: reinstall sagaflow, or run 'npm run build' in a clone.`, { cause: error });
  }
  if (!Array.isArray(catalog.demos)) throw new Error(`${CATALOG_URL.href} does not export the demos list: reinstall sagaflow.`);
  return catalog.demos as readonly CliDemo[];
}
