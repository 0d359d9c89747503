import type { SagaEvent } from '../index.js';
import { errorText, formatDuration, visibleLength } from './format.js';

/** Where progress is written: `process.stdout`, or a fake in tests. */
export interface TextSink {
  /** Writes text as is. */
  write(text: string): unknown;
  /** Whether it is a terminal (progress is redrawn in place). */
  readonly isTTY?: boolean;
  /** The terminal's width, when it is one. */
  readonly columns?: number;
}

/** Where one stage stands, as the progress view shows it. */
export type StagePhase =
  | 'pending'
  | 'running'
  | 'retrying'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'compensating'
  | 'compensated'
  | 'compensation_failed';

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

interface StageLine {
  phase: StagePhase;
  attempt: number;
  since?: number;
  until?: number;
  note: string;
}

const PHASE_LABEL: Readonly<Record<StagePhase, string>> = {
  pending: 'pending',
  running: 'running',
  retrying: 'retrying',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  compensating: 'compensating',
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
  compensated: '35',
  compensation_failed: '31',
};

const LABEL_WIDTH = Math.max(...Object.values(PHASE_LABEL).map((label) => label.length));
const ACTIVE: ReadonlySet<StagePhase> = new Set(['running', 'retrying', 'compensating']);

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
  private readonly lines = new Map<string, StageLine>();
  private readonly width: number;
  private readonly now: () => number;
  private readonly color: boolean;
  private status = 'starting';
  private runId = '';
  private drawn = 0;
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
    for (const name of stageNames) this.lines.set(name, { phase: 'pending', attempt: 0, note: '' });
    this.width = Math.max(5, ...stageNames.map((name) => name.length));
    this.now = options.now ?? Date.now;
    this.color = options.tty && (options.color ?? process.env['NO_COLOR'] === undefined);
    this.caughtUp = (options.liveFromSeq ?? 0) === 0;
  }

  /** Applies one event of the run and shows it. */
  update(event: SagaEvent): void {
    this.runId = event.runId;
    const live = event.seq >= (this.options.liveFromSeq ?? 0);
    if (live && !this.caughtUp) {
      this.caughtUp = true;
      if (!this.options.tty) this.printSoFar();
    }
    const changed = this.apply(event);
    if (this.options.tty) {
      this.redraw();
      this.scheduleRefresh();
    } else if (live) {
      for (const line of changed) this.sink.write(`${line}\n`);
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
    return [...this.lines.keys()].map((name) => this.stageLine(name, false));
  }

  // -------------------------------------------------------------------------------------

  /** Updates the state; returns the plain lines this event deserves. */
  private apply(event: SagaEvent): string[] {
    switch (event.type) {
      case 'run.started':
        this.status = 'running';
        return [`run ${event.runId} started (saga ${event.saga} v${event.version})`];
      case 'run.resumed':
        this.status = event.mode === 'resume' ? 'resumed' : event.mode === 'redrive' ? 'redriving' : 'compensating';
        return [`${event.mode === 'resume' ? 'resumed' : event.mode === 'redrive' ? 'redriving' : 'rolling back'} run ${event.runId} from its journal`];
      case 'run.cancelling':
        this.status = `cancelling (${event.reason})`;
        return [`cancelling: ${event.reason}${event.by === 'external' ? '' : ` (by stage ${event.by})`}`];
      case 'run.compensating': {
        const why = event.cause.kind === 'failed' ? `${event.cause.stage} failed` : `cancelled: ${event.cause.reason}`;
        this.status = `rolling back (${why})`;
        return [`rolling back: ${why}`];
      }
      case 'run.paused':
        this.status = `paused (${event.failure.stage} failed)`;
        return [`paused: ${event.failure.stage} failed; the completed stages are kept`];
      case 'run.completed':
        this.status = 'completed';
        return [];
      case 'run.compensated':
        this.status = 'rolled back';
        return [];
      case 'run.cancelled':
        this.status = 'cancelled';
        return [];
      case 'run.compensation_failed':
        this.status = 'compensation failed';
        return [];
      case 'stage.started':
        return this.change(event.stage, event.at, (line) => {
          if (line.phase !== 'running' && line.phase !== 'retrying') line.since = event.at;
          line.phase = 'running';
          line.attempt = event.attempt;
          line.note = '';
          delete line.until;
        });
      case 'stage.retrying':
        return this.change(event.stage, event.at, (line) => {
          line.phase = 'retrying';
          line.attempt = event.attempt;
          line.note = `${errorText(event.error)}; next attempt in ${formatDuration(event.delayMs)}`;
        });
      case 'stage.completed':
        return this.change(event.stage, event.at, (line) => {
          line.phase = 'completed';
          line.attempt = event.attempt;
          line.since ??= event.at - event.durationMs;
          line.until = event.at;
          line.note = '';
        });
      case 'stage.failed':
        return this.change(event.stage, event.at, (line) => {
          line.phase = 'failed';
          line.attempt = event.attempt;
          line.until = event.at;
          line.note = errorText(event.error);
        });
      case 'stage.cancelled':
        return this.change(event.stage, event.at, (line) => {
          line.phase = 'cancelled';
          line.until = event.at;
          line.note = event.error === undefined ? event.reason : `${event.reason}; ${errorText(event.error)}`;
        });
      case 'compensation.started':
        return this.change(event.stage, event.at, (line) => {
          if (line.phase !== 'compensating') line.since = event.at;
          line.phase = 'compensating';
          line.attempt = event.attempt;
          line.note = '';
          delete line.until;
        });
      case 'compensation.retrying':
        return this.change(event.stage, event.at, (line) => {
          line.attempt = event.attempt;
          line.note = `${errorText(event.error)}; next attempt in ${formatDuration(event.delayMs)}`;
        });
      case 'compensation.completed':
        return this.change(event.stage, event.at, (line) => {
          line.phase = 'compensated';
          line.attempt = event.attempt;
          line.until = event.at;
          line.note = '';
        });
      case 'compensation.failed':
        return this.change(event.stage, event.at, (line) => {
          line.phase = 'compensation_failed';
          line.attempt = event.attempt;
          line.until = event.at;
          line.note = errorText(event.error);
        });
    }
  }

  private change(stage: string, at: number, mutate: (line: StageLine) => void): string[] {
    let line = this.lines.get(stage);
    if (line === undefined) {
      line = { phase: 'pending', attempt: 0, note: '' };
      this.lines.set(stage, line);
    }
    mutate(line);
    return [this.stageLine(stage, false, at)];
  }

  /**
   * One stage's line. `changedAt` (plain output, one line per change) measures durations up to
   * the event and leaves out the zero-ish duration of a phase that just began; without it, a
   * running stage's duration runs to now.
   */
  private stageLine(name: string, color: boolean, changedAt?: number): string {
    const line = this.lines.get(name);
    if (line === undefined) return name;
    const justBegan = changedAt !== undefined && (line.phase === 'running' || line.phase === 'compensating');
    const end = justBegan ? undefined : (line.until ?? (ACTIVE.has(line.phase) ? (changedAt ?? this.now()) : undefined));
    const duration = line.since === undefined || end === undefined ? '' : formatDuration(end - line.since);
    const label = PHASE_LABEL[line.phase].padEnd(LABEL_WIDTH);
    const status = color ? `\u001b[${PHASE_COLOR[line.phase]}m${PHASE_ICON[line.phase]} ${label}\u001b[0m` : `${PHASE_ICON[line.phase]} ${label}`;
    const attempt = line.attempt === 0 ? '' : `attempt ${line.attempt}`;
    return `  ${name.padEnd(this.width)}  ${status}  ${attempt.padEnd(10)}  ${duration.padStart(8)}  ${line.note}`.trimEnd();
  }

  private printSoFar(): void {
    const started = [...this.lines].filter(([, line]) => line.phase !== 'pending');
    const summary = started.map(([name, line]) => `${name} ${PHASE_LABEL[line.phase]}`).join(', ');
    this.sink.write(`  so far: ${summary === '' ? 'no stage has started' : summary}\n`);
  }

  private redraw(): void {
    const columns = this.sink.columns ?? 120;
    const header = `run ${this.runId}  ${this.status}`;
    const rows = [header, ...[...this.lines.keys()].map((name) => this.stageLine(name, this.color))].map((row) => fit(row, columns));
    // Back to the first line of the block drawn last time, then overwrite it line by line.
    let text = this.drawn > 0 ? `\u001b[${this.drawn}F` : '';
    for (const row of rows) text += `\u001b[2K${row}\n`;
    this.sink.write(text);
    this.drawn = rows.length;
  }

  private scheduleRefresh(): void {
    const active = [...this.lines.values()].some((line) => ACTIVE.has(line.phase));
    if (active && this.timer === undefined) {
      this.timer = setInterval(() => this.redraw(), this.options.refreshMs ?? 100);
      this.timer.unref();
    } else if (!active && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
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
