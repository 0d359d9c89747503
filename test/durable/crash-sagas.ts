import { setImmediate as nextTurn } from 'node:timers/promises';
import { z } from 'zod';
import { defineSaga, NonRetryableError, type AnySaga, type CompensateContext, type ExecuteContext } from 'sagaflow';
import type { LedgerEntry } from './ledger.js';

/**
 * What one run of the crash tests does, carried in its input so that every process that
 * picks the run up (and the dry runs that measure its journal) behaves the same.
 */
export interface RunPlan {
  /** This stage fails for good (non-retryable): the run rolls back. */
  readonly failAt?: string | undefined;
  /** This stage cancels the run (`ctx.cancel`): the run rolls back and ends cancelled. */
  readonly cancelAt?: string | undefined;
  /** These stages fail their first attempt, then succeed. */
  readonly flakyExecute: readonly string[];
  /** These stages' compensations fail their first attempt, then succeed. */
  readonly flakyCompensate: readonly string[];
}

const planSchema = z.object({
  failAt: z.string().optional(),
  cancelAt: z.string().optional(),
  flakyExecute: z.array(z.string()),
  flakyCompensate: z.array(z.string()),
});
const inputSchema = z.object({ plan: planSchema });
type RunInput = z.infer<typeof inputSchema>;

/** The shapes under test: a chain, and a fan-out/fan-in rolled back sequentially or in parallel. */
export const SAGA_NAMES = ['crash-chain', 'crash-fanout', 'crash-fanout-parallel'] as const;
export type CrashSagaName = (typeof SAGA_NAMES)[number];

/** A stage of a crash saga, as the assertions need to know it. */
export interface StageShape {
  readonly name: string;
  readonly after: readonly string[];
  /** Has a `compensate`; stages without one are passed over by the rollback. */
  readonly compensable: boolean;
  readonly compensateOnFailure: boolean;
}

/** A crash saga's graph and compensation mode. */
export interface SagaShape {
  readonly compensation: 'sequential' | 'parallel';
  readonly stages: readonly StageShape[];
}

const stage = (name: string, after: readonly string[], options: { compensable?: boolean; compensateOnFailure?: boolean } = {}): StageShape => ({
  name,
  after,
  compensable: options.compensable ?? true,
  compensateOnFailure: options.compensateOnFailure ?? false,
});

// c has nothing to compensate; d's compensate also runs after its own final failure.
const chain: readonly StageShape[] = [
  stage('a', []),
  stage('b', ['a']),
  stage('c', ['b'], { compensable: false }),
  stage('d', ['c'], { compensateOnFailure: true }),
  stage('e', ['d']),
];
const fanOut: readonly StageShape[] = [
  stage('a', []),
  stage('b', ['a']),
  stage('c', ['a'], { compensable: false }),
  stage('d', ['a'], { compensateOnFailure: true }),
  stage('e', ['b', 'c', 'd']),
];

export const SAGA_SHAPES: Readonly<Record<CrashSagaName, SagaShape>> = {
  'crash-chain': { compensation: 'sequential', stages: chain },
  'crash-fanout': { compensation: 'sequential', stages: fanOut },
  'crash-fanout-parallel': { compensation: 'parallel', stages: fanOut },
};

/** How the stages of a process reach the outside world. */
export interface EffectHooks {
  /** Awaited by every `execute` and `compensate` before its effect (the crash child blocks here). */
  beforeEffect(runId: string): Promise<void>;
  /** The effect itself: the crash child writes it to the ledger. */
  effect(entry: Omit<LedgerEntry, 'id' | 'pid'>): void;
}

/** Hooks that do nothing: for dry runs that only measure how long a run's journal gets. */
export const noEffects: EffectHooks = {
  beforeEffect: () => Promise.resolve(),
  effect: () => undefined,
};

/** Just enough of the builder to add stages in a loop. */
interface StageAdder {
  stage(name: string, definition: object): StageAdder;
  build(): AnySaga;
}

/** Builds the crash sagas with stages that call `hooks`. */
export function buildCrashSagas(hooks: EffectHooks): Record<CrashSagaName, AnySaga> {
  const build = (name: CrashSagaName): AnySaga => {
    const shape = SAGA_SHAPES[name];
    let builder = defineSaga({ name, input: inputSchema, compensation: shape.compensation }) as unknown as StageAdder;
    for (const { name: stageName, after, compensable, compensateOnFailure } of shape.stages) {
      builder = builder.stage(stageName, {
        after: [...after],
        retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false },
        compensation: { retry: { maxAttempts: 5, initialDelayMs: 1, jitter: false } },
        ...(compensateOnFailure ? { compensateOnFailure: true } : {}),
        execute: async (context: ExecuteContext<RunInput, Record<string, unknown>>) => {
          await hooks.beforeEffect(context.runId);
          // Let parallel branches and other runs interleave, as real I/O would.
          await nextTurn();
          hooks.effect({
            runId: context.runId,
            stage: context.stage,
            kind: 'execute',
            idempotencyKey: context.idempotencyKey,
            attempt: context.attempt,
            hasOutput: true,
          });
          const { plan } = context.input;
          if (plan.failAt === context.stage) throw new NonRetryableError(`planned failure of stage ${context.stage}`);
          if (plan.flakyExecute.includes(context.stage) && context.attempt === 1) {
            throw new Error(`planned transient failure of stage ${context.stage}`);
          }
          if (plan.cancelAt === context.stage) context.cancel(`planned cancellation at stage ${context.stage}`);
          return { stage: context.stage, key: context.idempotencyKey };
        },
        ...(compensable
          ? {
              compensate: async (context: CompensateContext<RunInput, Record<string, unknown>, unknown>) => {
                await hooks.beforeEffect(context.runId);
                await nextTurn();
                hooks.effect({
                  runId: context.runId,
                  stage: context.stage,
                  kind: 'compensate',
                  idempotencyKey: context.idempotencyKey,
                  attempt: context.attempt,
                  hasOutput: context.output !== undefined,
                });
                if (context.input.plan.flakyCompensate.includes(context.stage) && context.attempt === 1) {
                  throw new Error(`planned transient failure of the compensation of ${context.stage}`);
                }
              },
            }
          : {}),
      });
    }
    return builder.build();
  };
  return { 'crash-chain': build('crash-chain'), 'crash-fanout': build('crash-fanout'), 'crash-fanout-parallel': build('crash-fanout-parallel') };
}

/** The status a run of this plan settles in, however often its processes are killed. */
export function expectedStatus(plan: RunPlan): 'completed' | 'compensated' | 'cancelled' {
  if (plan.failAt !== undefined) return 'compensated';
  if (plan.cancelAt !== undefined) return 'cancelled';
  return 'completed';
}

/** A small, seedable PRNG (mulberry32): the same seed gives the same plans and kill points. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A random run: mostly failing or cancelled ones, so that many kills land in rollbacks. */
export function randomRun(random: () => number): { saga: CrashSagaName; plan: RunPlan } {
  const saga = SAGA_NAMES[Math.floor(random() * SAGA_NAMES.length)] as CrashSagaName;
  const names = SAGA_SHAPES[saga].stages.map((shape) => shape.name);
  const pick = (): string => names[1 + Math.floor(random() * (names.length - 1))] as string;
  const ending = random();
  const plan: RunPlan = {
    ...(ending < 0.5 ? { failAt: pick() } : ending < 0.65 ? { cancelAt: pick() } : {}),
    flakyExecute: names.filter(() => random() < 0.15),
    flakyCompensate: names.filter(() => random() < 0.25),
  };
  return { saga, plan };
}
