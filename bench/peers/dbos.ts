/**
 * DBOS Transact (@dbos-inc/dbos-sdk 5.3.0): a registered workflow with `DBOS.runStep` per step
 * and per compensation, compensating in a try/catch. Durable on the local PostgreSQL: DBOS
 * checkpoints the workflow and every step in its system database, which `setup()` drops and
 * re-creates (`sagaflow_bench_dbos` by default) and `teardown()` drops.
 *
 * DBOS is a process-wide singleton (`DBOS.launch()` / `DBOS.shutdown()`): one DBOS peer at a time.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import {
  assertCounts,
  assertTrace,
  CountingEffects,
  FAILING_STEP,
  runPool,
  STEP_COUNT,
  StepFailure,
  TracingEffects,
  type Availability,
  type BatchOptions,
  type PeerOptions,
  type SagaEffects,
  type SagaEnding,
  type SagaPeer,
} from './peer.js';

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';
const DEFAULT_SYSTEM_DATABASE = 'sagaflow_bench_dbos';
const WORKFLOW_NAME = 'sagaflowBenchSaga';

/** The admin database URL: the option, else env SAGAFLOW_BENCH_PG_URL, else the local `test` database. */
function adminUrl(options: PeerOptions): string {
  return options.adminDatabaseUrl ?? process.env['SAGAFLOW_BENCH_PG_URL'] ?? DEFAULT_ADMIN_URL;
}

function systemDatabaseName(options: PeerOptions): string {
  const name = options.dbosSystemDatabase ?? DEFAULT_SYSTEM_DATABASE;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad DBOS system database name: ${name}`);
  return name;
}

/** `admin` with its database replaced by `database`. */
function databaseUrl(admin: string, database: string): string {
  const url = new URL(admin);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * The system database's URL, with DBOS's default `idle_in_transaction_session_timeout` (60 s) set
 * as a connection start-up option.
 *
 * Without it, DBOS 5.3 sets the timeout from its pool's `connect` listener
 * (`client.query('SET idle_in_transaction_session_timeout = …')`, not awaited), so the
 * borrower's first query is queued behind it on the same client and pg 8.23 warns "Calling
 * client.query() when the client is already executing a query is deprecated". DBOS skips the
 * listener when the URL's `options` already set the timeout (`setsIdleTransactionTimeout` in its
 * system_database.js): same setting, no concurrent queries, no warning.
 */
function systemDatabaseUrl(admin: string, database: string): string {
  const url = new URL(databaseUrl(admin, database));
  url.searchParams.set('options', '-c idle_in_transaction_session_timeout=60000');
  return url.toString();
}

/** Runs `sql` on the admin database, one connection, closed afterwards. */
async function adminQuery(admin: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Drops the DBOS system database, closing any session still on it. */
async function dropSystemDatabase(admin: string, name: string): Promise<void> {
  await adminQuery(admin, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** What the workflow returns: how it ended. */
interface WorkflowResult {
  readonly ending: SagaEnding;
}

function isStepFailure(error: unknown): boolean {
  // By name, not instanceof: on recovery DBOS rethrows a deserialized copy.
  return error instanceof Error && error.name === 'StepFailure';
}

/** True while a DBOS peer is set up in this process (DBOS is a singleton). */
let dbosInUse = false;

class DbosPeer implements SagaPeer {
  readonly name = 'dbos';
  readonly durable = true;
  readonly #admin: string;
  readonly #systemDatabase: string;
  readonly #counts = new CountingEffects();
  /** The effects the registered workflow uses: counting in batches, tracing in self-checks. */
  #effects: SagaEffects = this.#counts;
  #workflow: ((fail: boolean) => Promise<WorkflowResult>) | undefined;
  #owner = false;

  constructor(options: PeerOptions) {
    this.#admin = adminUrl(options);
    this.#systemDatabase = systemDatabaseName(options);
  }

  async setup(): Promise<void> {
    if (this.#workflow !== undefined) throw new Error('dbos: setup() called twice');
    if (dbosInUse) throw new Error('dbos: another DBOS peer is set up in this process (DBOS is a singleton)');
    dbosInUse = true;
    this.#owner = true;
    try {
      await dropSystemDatabase(this.#admin, this.#systemDatabase);
      this.#workflow = this.#register();
      DBOS.setConfig({
        name: 'sagaflow-bench',
        systemDatabaseUrl: systemDatabaseUrl(this.#admin, this.#systemDatabase),
        logLevel: 'warn',
      });
      await DBOS.launch(); // creates the system database and its schema
      await this.selfCheck();
    } catch (error) {
      await this.teardown().catch(() => undefined); // the setup error is the one worth reporting
      throw error;
    }
  }

  /** Registers the saga workflow (must happen before `DBOS.launch()`). */
  #register(): (fail: boolean) => Promise<WorkflowResult> {
    const effects = (): SagaEffects => this.#effects;
    return DBOS.registerWorkflow(
      async (fail: boolean): Promise<WorkflowResult> => {
        let done = 0;
        try {
          while (done < STEP_COUNT) {
            const step = done + 1;
            await DBOS.runStep(
              async () => {
                await effects().execute(step);
                if (fail && step === FAILING_STEP) throw new StepFailure(step);
              },
              { name: `execute-${step}` },
            );
            done = step;
          }
          return { ending: 'completed' };
        } catch (error) {
          if (!isStepFailure(error)) throw error;
          for (let step = done; step >= 1; step--) {
            await DBOS.runStep(() => effects().compensate(step), { name: `compensate-${step}` });
          }
          return { ending: 'compensated' };
        }
      },
      { name: WORKFLOW_NAME },
    );
  }

  #started(): (fail: boolean) => Promise<WorkflowResult> {
    if (this.#workflow === undefined || !DBOS.isInitialized()) throw new Error('dbos: call setup() first');
    return this.#workflow;
  }

  async selfCheck(): Promise<void> {
    const workflow = this.#started();
    for (const fail of [false, true]) {
      const tracing = new TracingEffects();
      this.#effects = tracing;
      const workflowID = `self-check-${fail ? 'fail' : 'ok'}-${Date.now()}`;
      try {
        const handle = await DBOS.startWorkflow(workflow, { workflowID })(fail);
        const result = await handle.getResult();
        assertTrace(this.name, fail, result.ending, tracing.trace);
      } finally {
        this.#effects = this.#counts;
      }
      // Durable for real: the workflow and its 5 (+4) checkpointed steps are in PostgreSQL.
      const status = await DBOS.getWorkflowStatus(workflowID);
      const steps = (await DBOS.listWorkflowSteps(workflowID)) ?? [];
      const names = steps.map((s) => s.name).join(',');
      const want = [1, 2, 3, 4, 5].map((s) => `execute-${s}`);
      if (fail) want.push('compensate-4', 'compensate-3', 'compensate-2', 'compensate-1');
      if (status?.status !== 'SUCCESS' || names !== want.join(',')) {
        throw new Error(
          `dbos self-check failed (fail=${fail}): status ${status?.status ?? 'none'}, recorded steps [${names}], ` +
            `expected SUCCESS [${want.join(',')}]`,
        );
      }
      if (fail && !(steps[FAILING_STEP - 1]?.error instanceof Error)) {
        throw new Error('dbos self-check failed: the failing step has no recorded error');
      }
    }
  }

  async runBatch(options: BatchOptions): Promise<void> {
    const workflow = this.#started();
    const { fail } = options;
    const expected: SagaEnding = fail ? 'compensated' : 'completed';
    this.#counts.reset();
    await runPool(options.count, options.concurrency, async () => {
      const { ending } = await workflow(fail);
      if (ending !== expected) throw new Error(`dbos: saga ended ${ending}, expected ${expected}`);
    });
    assertCounts(this.name, options, this.#counts, true);
  }

  async teardown(): Promise<void> {
    if (!this.#owner) return;
    try {
      // Also after a failed launch: shutdown() tolerates that, and deregister clears our registration.
      await DBOS.shutdown({ deregister: true });
    } finally {
      this.#workflow = undefined;
      this.#owner = false;
      dbosInUse = false;
      await dropSystemDatabase(this.#admin, this.#systemDatabase);
    }
  }
}

/**
 * DBOS can run when the admin database answers and the role may create databases.
 * @param options - peer options (admin database URL)
 */
export async function probe(options: PeerOptions): Promise<Availability> {
  const admin = adminUrl(options);
  try {
    systemDatabaseName(options);
    const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 3_000 });
    await client.connect();
    try {
      const { rows } = await client.query<{ can: boolean }>(
        'SELECT (rolcreatedb OR rolsuper) AS can FROM pg_roles WHERE rolname = current_user',
      );
      if (rows[0]?.can !== true) return { ok: false, reason: `the role of ${redact(admin)} may not create databases` };
    } finally {
      await client.end();
    }
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      reason: `PostgreSQL at ${redact(admin)} is not reachable: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** `url` without its password. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * A new DBOS peer.
 * @param options - admin database URL and system database name
 */
export function createPeer(options: PeerOptions): SagaPeer {
  return new DbosPeer(options);
}
