/**
 * sagaflow: journal-first saga orchestration for TypeScript.
 *
 * @remarks
 * Declare each stage as a paired `execute` / `compensate`, wire stages into a DAG with
 * {@link defineSaga}, and run it with {@link createOrchestrator}. Every run is an
 * append-only journal of {@link SagaEvent}s; when a stage fails or the run is cancelled,
 * in-flight branches are settled and completed stages are compensated in reverse completion
 * order, and every completed stage's output stays on the {@link SagaOutcome}.
 *
 * @packageDocumentation
 * @module sagaflow
 */

// Defining sagas
export { defineSaga } from './definition/define-saga.js';
export { defineStage } from './definition/define-stage.js';
export type { ReusableStage } from './definition/define-stage.js';
export type { DeepReadonly } from './definition/deep-readonly.js';
export type { JsonOutput, OutputJsonProblem } from './definition/json-output.js';
export { SagaBuilder } from './definition/saga-builder.js';
export type { AncestorsOf, DeclaredStageInfo, KnownAfter, OutputsOf, ResultsOf, SagaBuilderOptions, StageAfter, StageInfo, UniqueStageName } from './definition/saga-builder.js';
export type { AnySaga, ResolvedCompensationPolicy, ResolvedSagaPolicies, Saga, SagaInput, SagaOutputs, SagaPolicies, SagaStage } from './definition/saga.js';
export type {
  CompensateContext,
  CompensateContextBase,
  CompensateOutput,
  CompensationPolicy,
  ExecuteContext,
  ReadonlyResults,
  StageDefinition,
} from './definition/stage-definition.js';
export type { ResolvedRetryPolicy, RetryPolicy } from './definition/retry-policy.js';
export type { SleepDefinition, WaitForSignalDefinition, WaitSpec } from './definition/wait-stage.js';
export { shapeOf } from './definition/shape-hash.js';
export { continuationProblems, describeShapeChanges, diffShapes } from './definition/shape-diff.js';
export type { ContinuationProblem, ShapeChanges } from './definition/shape-diff.js';

// Running sagas
export { createOrchestrator, runErrorFor } from './runtime/orchestrator.js';
export type {
  CloseOptions,
  ContinueOptions,
  Orchestrator,
  OrchestratorErrorContext,
  OrchestratorOptions,
  RecoverOptions,
  RecoverResult,
  SkippedRun,
  StartOptions,
  WatchOptions,
} from './runtime/orchestrator.js';
export type { SagaRun } from './runtime/saga-run.js';
export type { SignalOptions, SignalResult } from './runtime/signal-delivery.js';
export type { AttemptPhase, AttemptResult } from './runtime/decider.js';
export type { AttemptInfo, AttemptScope, DriveEnd, DriveInfo, DriveScope, Instrumentation, WorkerActivity } from './runtime/instrumentation.js';
export type { SubscriberErrorContext, SubscriberErrorHandler } from './runtime/safe-observable.js';

// Distributed workers
export { createWorker } from './worker/worker.js';
export type { Worker, WorkerErrorContext, WorkerOperation, WorkerOptions, WorkerRetryOptions, WorkerStopOptions } from './worker/worker.js';

// The journal
export type {
  Cancellation,
  CancelledCause,
  DurationFields,
  ErrorFields,
  FailedCause,
  RetryFields,
  StageAttemptFields,
  StageFailure,
  CompensationCompletedEvent,
  CompensationFailedEvent,
  CompensationRetryingEvent,
  CompensationStartedEvent,
  ResumeMode,
  RollbackCause,
  RunCancelledEvent,
  RunCancellingEvent,
  RunCompensatedEvent,
  RunCompensatingEvent,
  RunCompensationFailedEvent,
  RunCompletedEvent,
  RunPausedEvent,
  RunResumedEvent,
  RecordedStageShape,
  RunStartedEvent,
  SagaEvent,
  SagaEventBase,
  SagaEventDraft,
  SagaEventType,
  StageCancelledEvent,
  StageCompletedEvent,
  StageFailedEvent,
  StageRetryingEvent,
  StageStartedEvent,
  SignalReceivedEvent,
  WaitStartedEvent,
} from './journal/saga-event.js';
export { sagaEventSchema, sagaEventSchemas } from './journal/saga-event.js';
export { foldJournal, JournalFold } from './journal/fold.js';
export { describeWait } from './journal/describe-wait.js';
export type {
  CompensationState,
  CompensationStatus,
  ExecutionStatus,
  FoldOptions,
  ReceivedSignal,
  RollbackState,
  RunState,
  StageState,
  WaitState,
} from './journal/fold.js';
export {
  ACTIVE_RUN_STATUSES,
  isSettledStatus,
  SETTLED_RUN_STATUSES,
  stageStatusOf,
  toOutcome,
  UNFINISHED_RUN_STATUSES,
} from './journal/outcome.js';
export { RUN_ACTION_STATUSES, RUN_STATUSES } from './journal/run-actions.js';
export type { RunAction } from './journal/run-actions.js';
export type {
  CompensationRecord,
  CompletedSagaOutcome,
  RunStatus,
  SagaOutcome,
  SagaOutcomeBase,
  StageNameOf,
  StageRecord,
  StageStatus,
  UnfinishedSagaOutcome,
} from './journal/outcome.js';

// Stores
export type {
  AcquireRequest,
  AcquireResult,
  AppendRequest,
  CancelRequest,
  CreateRunRequest,
  HeartbeatResult,
  LeaseInfo,
  LeaseToken,
  ListRunsQuery,
  PruneOptions,
  RunSummary,
  SagaStore,
  SignalRequest,
} from './stores/saga-store.js';
export { MemoryStore } from './stores/memory-store.js';
export type { MemoryStoreOptions } from './stores/memory-store.js';
export { runIdProblem } from './stores/run-id.js';

// Errors
export { SagaError, SagaErrorCode } from './errors/saga-error.js';
export { SagaCancelledError, SagaCompensationError, SagaFailedError, SagaRunError } from './errors/saga-run-error.js';
export type { AnyRunError } from './errors/saga-run-error.js';
export { isRunError } from './errors/is-run-error.js';
export { SagaDefinitionError, SagaInputError } from './errors/definition-errors.js';
export type { Issue } from './errors/definition-errors.js';
export {
  OrchestratorClosedError,
  RunAlreadyExistsError,
  RunNotFoundError,
  RunStateError,
  SagaNotRegisteredError,
  SagaShapeMismatchError,
  WorkerStoppedError,
} from './errors/run-errors.js';
export type { SagaShapeMismatchDetails } from './errors/run-errors.js';
export { SignalPayloadError, SignalTimeoutError, UnknownSignalError } from './errors/signal-errors.js';
export { WaitTimeoutError, WaitUntilError } from './errors/wait-errors.js';
export {
  LeaseLostError,
  RunLeasedError,
  StoreConflictError,
  StoreCorruptionError,
  StoreUnavailableError,
  StoreUnsupportedError,
} from './errors/store-errors.js';
export { NonRetryableError, StageOutputError, StageResultAccessError, StageTimeoutError } from './errors/stage-errors.js';
export { SERIALIZATION_NOTES_KEY, serializeError, serializedErrorSchema } from './errors/serialize-error.js';
export type { SerializationNotes, SerializedError } from './errors/serialize-error.js';
export { REDACTED, redactSerializedError, WITHHELD_ERROR_MESSAGE } from './errors/redact-error.js';
export type { ErrorRedactionContext, ErrorRedactor } from './errors/redact-error.js';
export type {
  ClaimedRun,
  ClaimRequest,
  ParkRequest,
  ParkResult,
  SagaRegistration,
  WorkQueueStore,
  WorkSignal,
  WorkSignalKind,
} from './stores/work-queue.js';
export { supportsWorkers } from './stores/work-queue.js';
