/**
 * `sagaflow/testing`: deterministic tests for sagas, with no server.
 *
 * @remarks
 * Virtual time for retries and timeouts ({@link createVirtualClock}), fault injection without
 * editing a saga ({@link failStage}, {@link delayStage}, {@link failCompensation},
 * {@link crashAfter}), and a harness ({@link createSagaTest}) that runs a saga to its outcome
 * with its journal.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga } from 'sagaflow';
 * import { createSagaTest, delayStage } from 'sagaflow/testing';
 *
 * const saga = defineSaga({ name: 'slow', input: z.object({}) })
 *   .stage('call', { execute: async () => 'ok', timeoutMs: 1_000, retry: { maxAttempts: 2 } })
 *   .build();
 * const result = await createSagaTest({ faults: [delayStage('call', 5_000, { times: 1 })] }).run(saga, {});
 * console.log(result.outcome.stages.call?.attempts); // 2: the first attempt timed out, in virtual time
 * ```
 *
 * @packageDocumentation
 * @module sagaflow/testing
 */
export { createVirtualClock } from './testing/virtual-clock.js';
export type { VirtualClock, VirtualClockOptions } from './testing/virtual-clock.js';
export { crashAfter, delayStage, failCompensation, failStage, withFaults } from './testing/faults.js';
export type { CrashFault, Fault, StageFault } from './testing/faults.js';
export { crashingStore, SimulatedCrashError } from './testing/crash-store.js';
export type { CrashingStore } from './testing/crash-store.js';
export { createSagaTest, rollbackProblems, traceOf } from './testing/saga-test.js';
export type { SagaTest, SagaTestContinueOptions, SagaTestOptions, SagaTestResult, SagaTestRunOptions, SignalPayloads } from './testing/saga-test.js';
