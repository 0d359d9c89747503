/**
 * sagaflow/otel: OpenTelemetry traces and metrics for sagaflow runs.
 *
 * @remarks
 * {@link openTelemetry} returns an `Instrumentation` to pass to `createOrchestrator` and
 * `createWorker`: one trace per run across processes and restarts (the trace context of `start` /
 * `submit` is journaled with the run), a span per attempt and per compensation, the rollback as a
 * span of its own, and metrics of runs, attempts and workers. It needs the `@opentelemetry/api`
 * package, an optional peer dependency of sagaflow (`npm install @opentelemetry/api`, plus an SDK
 * and an exporter); nothing of OpenTelemetry is loaded unless this entry point is imported. See
 * `docs/observability.md`.
 *
 * @example
 * ```ts
 * import { createOrchestrator } from 'sagaflow';
 * import { openTelemetry } from 'sagaflow/otel';
 * const orchestrator = createOrchestrator({ instrumentation: openTelemetry() });
 * ```
 *
 * @packageDocumentation
 * @module sagaflow/otel
 */

export { openTelemetry } from './otel/open-telemetry.js';
export type { OpenTelemetryOptions, SagaSpanName, SagaSpanTarget } from './otel/open-telemetry.js';
