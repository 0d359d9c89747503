import { describeWait, JournalFold, stageStatusOf, type SagaEvent, type StageState, type StageStatus } from '../index.js';
import { errorText, formatDuration, printable, visibleLength } from './format.js';

/** Where progress is written: `process.stdout`, or a fake in tests. */
export interface TextSink {
  /** Writes text as is. */
  write(text: string): unknown;
  /** Whether it is a terminal (progress is redrawn in place). */
  readonly isTTY?: boolean;
  /** The terminal's width, when it is one. */
  readonly columns?: number;
}

/**
 * Where one stage stands, as the progress view shows it: the fold's stage status, `pending` for
 * `not_started`, `retrying` while a retry of `execute` waits and `compensation_retrying` while a
 * retry of `compensate` waits (a failed attempt of an undo is not the undo going on).
 */
export type StagePhase = Exclude<StageStatus, 'not_started'> | 'pending' | 'retrying' | 'compensation_retrying';

/** Options of {@link RunProgress}. */
export interface RunProgressOptions {
  /** Redraw one line per stage in place (a terminal), instead of printing a line per change. */
  readonly tty: boolean;
  /** Colour the statuses (terminals only; off when `NO_COLOR` is set). Default: `tty`. */
  readonly color?: boolean;
  /** The clock for running stages' durations. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Events with a lower `seq` were already in the journal when this command picked the run up
   * (resume, redrive, compensate): they set the stages' state quietly, and the first live event
   * prints that state as one line.
   */
  readonly liveFromSeq?: number;
  /** How often a terminal view refreshes running durations. Default 100 ms. */
  readonly refreshMs?: number;
}

const PHASE_LABEL: Readonly<Record<StagePhase, string>> = {
  pending: 'pending',
  running: 'running',
  retrying: 'retrying',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  compensating: 'compensating',
  compensation_retrying: 'compensation retry',
  compensated: 'compensated',
  compensation_failed: 'compensation failed',
};

const PHASE_ICON: Readonly<Record<StagePhase, string>> = {
  pending: '·',
  running: '▸',
  retrying: '↻',
  completed: '✔',
  failed: '✖',
  cancelled: '⊘',
  compensating: '↺',
  compensation_retrying: '↻',
  compensated: '↩',
  compensation_failed: '✖',
};

const PHASE_COLOR: Readonly<Record<StagePhase, string>> = {
  pending: '2',
  running: '36',
  retrying: '33',
  completed: '32',
  failed: '31',
  cancelled: '33',
  compensating: '35',
  compensation_retrying: '33',
  compensated: '35',
  compensation_failed: '31',
};

const LABEL_WIDTH = Math.max(...Object.values(PHASE_LABEL).map((label) => label.length));
const ACTIVE: ReadonlySet<StagePhase> = new Set(['running', 'retrying', 'compensating', 'compensation_retrying']);

/**
 * Live progress of one run: one line per stage with its status, attempt and duration.
 *
 * @remarks
 * On a terminal the lines are redrawn in place (durations of running stages tick); elsewhere
 * (a pipe, a file, CI) every change of a stage prints one plain line, so logs stay readable.
 * Feed it the run's events with {@link RunProgress.update} and call {@link RunProgress.finish}
 * once the run settles.
 */
export class RunProgress {
  /** The run as the journal says: every line below is read from it. */
  private readonly fold = new JournalFold();
  private readonly stageNames: string[];
  private readonly width: number;
  private readonly now: () => number;
  private readonly color: boolean;
  private status = 'starting';
  private runId = '';
  private drawn = 0;
  /** The last plain line printed per stage: an event that leaves a stage's line as it was prints nothing. */
  private readonly printed = new Map<string, string>();
  private caughtUp: boolean;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param sink - where to write.
   * @param stageNames - the saga's stages, in declaration order.
   * @param options - see {@link RunProgressOptions}.
   */
  constructor(
    private readonly sink: TextSink,
    stageNames: readonly string[],
    private readonly options: RunProgressOptions,
  ) {
    this.stageNames = [...stageNames];
    this.width = Math.max(5, ...stageNames.map((name) => printable(name).length));
    this.now = options.now ?? Date.now;
    this.color = options.tty && (options.color ?? process.env['NO_COLOR'] === undefined);
    this.caughtUp = (options.liveFromSeq ?? 0) === 0;
  }

  /** Applies one event of the run and shows it. */
  update(event: SagaEvent): void {
    this.runId = event.runId;
    if (this.fold.state !== undefined || event.type === 'run.started') this.fold.push(event);
    if ('stage' in event && !this.stageNames.includes(event.stage)) this.stageNames.push(event.stage);
    const live = event.seq >= (this.options.liveFromSeq ?? 0);
    if (live && !this.caughtUp) {
      this.caughtUp = true;
      if (!this.options.tty) this.printSoFar();
    }
    const changed = this.linesFor(event);
    if (this.options.tty) {
      this.redraw();
      this.scheduleRefresh();
    } else if (live) {
      // Each line printable: names, reasons, signal ids and error messages in it come from outside (see printable).
      for (const line of changed) {
        if ('stage' in event) {
          if (this.printed.get(event.stage) === line) continue;
          this.printed.set(event.stage, line);
        }
        this.sink.write(`${printable(line)}\n`);
      }
    }
  }

  /** Stops refreshing and leaves the final state on screen. */
  finish(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.tty) this.redraw();
  }

  /** The stages' current lines, as a terminal shows them (without colour). */
  snapshot(): string[] {
    return this.stageNames.map((name) => this.stageLine(name, false));
  }

  // -------------------------------------------------------------------------------------

  /** The plain lines an event deserves: its stage's new line, or the run's news. */
  private linesFor(event: SagaEvent): string[] {
    if ('stage' in event) return [this.stageLine(event.stage, false, event.at)];
    this.status = runStatusText(event, this.status);
    switch (event.type) {
      case 'run.started':
        return [`run ${event.runId} started (saga ${event.saga} v${event.version})`];
      case 'run.resumed':
        return [`${event.mode === 'resume' ? 'resumed' : event.mode === 'redrive' ? 'redriving' : 'rolling back'} run ${event.runId} from its journal`];
      case 'run.cancelling':
        return [`cancelling: ${event.reason}${event.by === 'external' ? '' : ` (by stage ${event.by})`}`];
      case 'run.compensating':
        return [`rolling back: ${event.cause.kind === 'failed' ? `${event.cause.stage} failed` : `cancelled: ${event.cause.reason}`}`];
      case 'run.paused':
        return [`paused: ${event.failure.stage} failed; the completed stages are kept`];
      case 'signal.received':
        return [`signal '${event.signal}' received (${event.signalId}); buffered until a stage waits for it`];
      case 'run.completed':
      case 'run.compensated':
      case 'run.cancelled':
      case 'run.compensation_failed':
        return [];
    }
  }

  /**
   * One stage's line, read from the fold. `changedAt` (plain output, one line per change) leaves
   * out the zero-ish duration of an attempt that just began; without it, a running attempt's
   * duration runs to now. Durations are the journal's: the attempt shown, from its own events.
   */
  private stageLine(name: string, color: boolean, changedAt?: number): string {
    const record = this.fold.state?.stages.get(name);
    const phase = record === undefined ? 'pending' : phaseOf(record);
    const { attempt, duration, note } = record === undefined ? { attempt: 0, duration: undefined, note: '' } : this.details(name, record, phase, changedAt);
    const label = PHASE_LABEL[phase].padEnd(LABEL_WIDTH);
    const status = color ? `\u001b[${PHASE_COLOR[phase]}m${PHASE_ICON[phase]} ${label}\u001b[0m` : `${PHASE_ICON[phase]} ${label}`;
    const attemptText = attempt === 0 ? '' : `attempt ${attempt}`;
    const durationText = duration === undefined ? '' : formatDuration(duration);
    // The name and the note printable here, as a terminal's lines hold the view's own colour escapes.
    return `  ${printable(name).padEnd(this.width)}  ${status}  ${attemptText.padEnd(10)}  ${durationText.padStart(8)}  ${printable(note)}`.trimEnd();
  }

  private details(name: string, record: StageState, phase: StagePhase, changedAt: number | undefined): { attempt: number; duration: number | undefined; note: string } {
    const compensation = record.compensation;
    const span = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : to - from);
    const running = (from: number | undefined): number | undefined => (changedAt !== undefined ? undefined : span(from, this.now()));
    switch (phase) {
      case 'pending':
        return { attempt: 0, duration: undefined, note: '' };
      case 'running': {
        const wait = this.fold.state?.waits?.get(name);
        return { attempt: record.attempts, duration: running(record.attemptStartedAt), note: wait === undefined ? '' : `waiting for ${describeWait(wait)}` };
      }
      case 'retrying':
        return { attempt: record.attempts, duration: span(record.attemptStartedAt, record.attemptEndedAt), note: retryNote(record) };
      case 'completed':
        return { attempt: record.attempts, duration: record.durationMs, note: '' };
      case 'failed':
        return { attempt: record.attempts, duration: span(record.attemptStartedAt, record.endedAt), note: record.error === undefined ? '' : errorText(record.error) };
      case 'cancelled': {
        const why = record.cancelReason ?? '';
        const note = record.error === undefined ? why : `${why}; ${errorText(record.error)}`;
        return { attempt: record.attempts, duration: span(record.attemptStartedAt, record.endedAt), note };
      }
      case 'compensating':
        return { attempt: compensation?.attempts ?? 0, duration: running(compensation?.attemptStartedAt), note: '' };
      case 'compensation_retrying':
        return {
          attempt: compensation?.attempts ?? 0,
          duration: span(compensation?.attemptStartedAt, compensation?.attemptEndedAt),
          note: compensation === undefined ? '' : retryNote(compensation),
        };
      case 'compensated':
        return { attempt: compensation?.attempts ?? 0, duration: compensation?.durationMs, note: '' };
      case 'compensation_failed':
        return {
          attempt: compensation?.attempts ?? 0,
          duration: span(compensation?.attemptStartedAt, compensation?.endedAt),
          note: compensation?.error === undefined ? '' : errorText(compensation.error),
        };
    }
  }

  private printSoFar(): void {
    const started = this.stageNames.flatMap((name) => {
      const record = this.fold.state?.stages.get(name);
      const phase = record === undefined ? 'pending' : phaseOf(record);
      return phase === 'pending' ? [] : [`${name} ${PHASE_LABEL[phase]}`];
    });
    const summary = started.join(', ');
    this.sink.write(`  so far: ${summary === '' ? 'no stage has started' : printable(summary)}\n`);
  }

  private redraw(): void {
    const columns = this.sink.columns ?? 120;
    const header = printable(`run ${this.runId}  ${this.status}`);
    const rows = [header, ...this.stageNames.map((name) => this.stageLine(name, this.color))].map((row) => fit(row, columns));
    // Back to the first line of the block drawn last time, then overwrite it line by line.
    let text = this.drawn > 0 ? `\u001b[${this.drawn}F` : '';
    for (const row of rows) text += `\u001b[2K${row}\n`;
    this.sink.write(text);
    this.drawn = rows.length;
  }

  private scheduleRefresh(): void {
    const active = this.stageNames.some((name) => {
      const record = this.fold.state?.stages.get(name);
      return record !== undefined && ACTIVE.has(phaseOf(record));
    });
    if (active && this.timer === undefined) {
      this.timer = setInterval(() => this.redraw(), this.options.refreshMs ?? 100);
      this.timer.unref();
    } else if (!active && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** Where a stage stands, as the progress view shows it: its status, a retry wait (of `execute` or of `compensate`) told apart. */
function phaseOf(record: StageState): StagePhase {
  const status = stageStatusOf(record);
  if (status === 'not_started') return 'pending';
  if (status === 'running' && record.retryAt !== undefined) return 'retrying';
  if (status === 'compensating' && record.compensation?.retryAt !== undefined) return 'compensation_retrying';
  return status;
}

/** The last error, and when the next attempt is due. */
function retryNote(record: Pick<StageState, 'error' | 'retryAt' | 'attemptEndedAt'>): string {
  const next = record.retryAt === undefined || record.attemptEndedAt === undefined ? '' : `; next attempt in ${formatDuration(record.retryAt - record.attemptEndedAt)}`;
  return `${record.error === undefined ? '' : errorText(record.error)}${next}`;
}

/** The run's status line on a terminal, after an event. */
function runStatusText(event: SagaEvent, previous: string): string {
  switch (event.type) {
    case 'run.started':
      return 'running';
    case 'run.resumed':
      return event.mode === 'resume' ? 'resumed' : event.mode === 'redrive' ? 'redriving' : 'compensating';
    case 'run.cancelling':
      return `cancelling (${event.reason})`;
    case 'run.compensating':
      return `rolling back (${event.cause.kind === 'failed' ? `${event.cause.stage} failed` : `cancelled: ${event.cause.reason}`})`;
    case 'run.paused':
      return `paused (${event.failure.stage} failed)`;
    case 'run.completed':
      return 'completed';
    case 'run.compensated':
      return 'rolled back';
    case 'run.cancelled':
      return 'cancelled';
    case 'run.compensation_failed':
      return 'compensation failed';
    default:
      return previous;
  }
}

/** Cuts a line to the terminal's width so that it never wraps (a wrapped line breaks the redraw). */
function fit(row: string, columns: number): string {
  if (visibleLength(row) < columns) return row;
  // Cut on the plain text; colour codes sit before the cut in every line we draw.
  let visible = 0;
  let out = '';
  for (let index = 0; index < row.length; index++) {
    if (row[index] === '\u001b') {
      const end = row.indexOf('m', index);
      out += row.slice(index, end + 1);
      index = end;
      continue;
    }
    if (visible >= columns - 2) break;
    out += row[index];
    visible++;
  }
  return `${out}…\u001b[0m`;
}
