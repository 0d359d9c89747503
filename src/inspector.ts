/**
 * sagaflow/inspector: the run inspector in the browser, as a Node request handler.
 *
 * @remarks
 * {@link createInspector} serves the runs of a store (`SqliteStore`, `PostgresStore`, any
 * `SagaStore`): a list with counts, filters and paging, and a page per run with its DAG, its
 * rollback, a timeline of every attempt, its input, outputs and journal, live while the run goes
 * on; plus the redrive, compensate and cancel actions. `sagaflow ui --store URL` serves the same
 * handler on 127.0.0.1.
 *
 * @packageDocumentation
 * @module sagaflow/inspector
 */

export { createInspector } from './inspector/create-inspector.js';
export type { Inspector, InspectorOptions, InspectorProblemContext } from './inspector/create-inspector.js';
