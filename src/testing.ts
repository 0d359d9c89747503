/**
 * `sagaflow/testing`: deterministic tests for sagas, with no server.
 *
 * @remarks
 * Virtual time for retries and timeouts, fault injection without editing a saga, and helpers
 * that run a saga to its outcome with its journal.
 *
 * @packageDocumentation
 */
export { createVirtualClock } from './testing/virtual-clock.js';
export type { VirtualClock, VirtualClockOptions } from './testing/virtual-clock.js';
