/**
 * What the inspector's server sends its page: plain JSON, computed from the journal's fold on the
 * server, drawn by the page as it is. Types only (shared by the server and the page's script), so
 * this module imports nothing.
 *
 * @internal
 * @packageDocumentation
 */

/** A serialised error, as journaled (`SerializedError`). */
export interface ErrorView {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
  readonly data?: unknown;
}

/**
 * How a stage is coloured: the outcome's stage status, with `retrying` for a stage that waits
 * before its next attempt.
 */
export type StageTone =
  | 'not_started'
  | 'running'
  | 'retrying'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'compensating'
  | 'compensated'
  | 'compensation_failed';

/** One stage, as the fold has it. */
export interface StageView {
  readonly name: string;
  readonly tone: StageTone;
  readonly attempts: number;
  /** The stages it runs after. */
  readonly after: readonly string[];
  /** It has a `compensate`. */
  readonly compensates: boolean;
  /** It is the run's failure (the first final failure). */
  readonly failing: boolean;
  /** It was in flight when its process stopped during a stop: it may or may not have taken effect. */
  readonly outcomeUnknown: boolean;
  /** Its number in the rollback (1 = undone first), once the run rolls back and it is to be undone. */
  readonly rollbackStep?: number;
  readonly error?: ErrorView;
  readonly cancelReason?: string;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly durationMs?: number;
  /** While waiting to retry: when the next attempt is due. */
  readonly retryAt?: number;
  /** A wait stage waiting now: for a signal (its name) or for time, and until when. */
  readonly waiting?: { readonly kind: 'signal' | 'timer'; readonly signal?: string; readonly dueAt?: number };
  readonly compensation?: {
    readonly status: 'pending' | 'running' | 'completed' | 'failed';
    readonly attempts: number;
    readonly error?: ErrorView;
    readonly retryAt?: number;
  };
}

/** The DAG laid out: boxes and edge polylines, in SVG user units. */
export interface LayoutView {
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly { readonly name: string; readonly x: number; readonly y: number; readonly width: number; readonly height: number }[];
  readonly edges: readonly { readonly from: string; readonly to: string; readonly points: readonly { readonly x: number; readonly y: number }[] }[];
}

/** How an attempt (or a wait) ended, for its colour on the timeline. */
export type BarOutcome = 'running' | 'completed' | 'retried' | 'failed' | 'cancelled' | 'interrupted' | 'waiting';

/** One bar of the timeline: an attempt of `execute` or `compensate`, or the wait before a retry. */
export interface TimelineBar {
  readonly stage: string;
  readonly lane: 'execute' | 'compensate';
  readonly kind: 'attempt' | 'retry-wait';
  readonly attempt: number;
  readonly outcome: BarOutcome;
  readonly start: number;
  /** Absent while the attempt is still in flight (drawn up to the timeline's end). */
  readonly end?: number;
  /** The error that ended it, or why it was cancelled. */
  readonly note?: string;
}

/** A moment of the run drawn across the timeline. */
export interface TimelineMark {
  readonly at: number;
  readonly kind: 'cancel' | 'rollback' | 'paused' | 'resumed' | 'settled';
  readonly label: string;
}

/** Every attempt, retry wait, compensation and cancel request, from the journal's timestamps. */
export interface TimelineView {
  readonly start: number;
  /** The last event's time, or now for a live run. */
  readonly end: number;
  readonly bars: readonly TimelineBar[];
  readonly marks: readonly TimelineMark[];
}

/** Whether an action is offered, and why not when it is not. */
export interface ActionView {
  readonly enabled: boolean;
  readonly reason?: string;
}

/** The names of the actions. */
export type ActionName = 'redrive' | 'compensate' | 'cancel';

/** A run, as its page shows it. */
export interface RunView {
  readonly runId: string;
  readonly saga: string;
  readonly version: string;
  readonly shapeHash: string;
  readonly status: string;
  readonly submitted: boolean;
  /** The run goes on (queued, running, compensating): its timeline runs up to now. */
  readonly live: boolean;
  /**
   * An action can still move the run (it is live, or paused, or its rollback failed): the stream
   * follows it, and a redrive from anywhere shows. Otherwise the stream ends.
   */
  readonly followed: boolean;
  readonly stopping: boolean;
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly lastSeq: number;
  readonly stages: readonly StageView[];
  readonly completionOrder: readonly string[];
  readonly compensationOrder: readonly string[];
  /** The stages to undo, in the order they are (or were) undone. */
  readonly rollbackOrder: readonly string[];
  readonly failure?: { readonly stage: string; readonly error: ErrorView };
  readonly cancellation?: { readonly reason: string; readonly by: string };
  readonly timeline: TimelineView;
  readonly actions: Readonly<Record<ActionName, ActionView>>;
}

/** A run's view without its stages: what every message of the stream carries whole. */
export type RunViewHead = Omit<RunView, 'stages'>;

/**
 * One message of a run's event stream: what changed since the previous message (the first one of
 * a stream carries everything, or what changed since `Last-Event-ID` / `after` for a page that
 * reconnects).
 */
export interface RunUpdate {
  readonly view: RunViewHead;
  /** The stages whose view changed, in the run's stage order (every stage in a first message). */
  readonly stages: readonly StageView[];
  /** Journal events not sent before, in `seq` order. */
  readonly events: readonly unknown[];
  /** The DAG's layout: in the first message, and again when the run's shape changes. */
  readonly layout?: LayoutView;
  /** The run's input: in a first message only. */
  readonly input?: unknown;
  /** The outputs of the stages that completed since the previous message (every one in a first message). */
  readonly outputs?: Readonly<Record<string, unknown>>;
}

/**
 * Whether the stream can read the run's store (the `store` event): sent when reads start failing,
 * and again when the store answers.
 */
export type StoreState = { readonly available: true } | { readonly available: false; readonly message: string; readonly retryMs: number };

/** What an action request answers. */
export interface ActionResult {
  readonly ok: boolean;
  readonly message: string;
}
