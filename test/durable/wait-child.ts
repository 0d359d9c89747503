/**
 * A process that starts a run of the `cool-off` saga on a SQLite file, reports once the run's
 * wait is durable, and SIGKILLs itself: the parent then recovers the run in another process.
 */
import { filter, firstValueFrom } from 'rxjs';
import { createOrchestrator } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { coolOff } from './wait-sagas.js';

const { path, runId } = JSON.parse(process.argv[2] ?? '{}') as { path: string; runId: string };
const store = new SqliteStore({ path });
const orchestrator = createOrchestrator({ store, sagas: [coolOff], leaseMs: 300 });
const run = orchestrator.start(coolOff, { cents: 250 }, { runId });
const wait = await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
process.stdout.write(`${JSON.stringify({ type: 'waiting', runId, dueAt: wait.dueAt })}\n`);
process.kill(process.pid, 'SIGKILL');
