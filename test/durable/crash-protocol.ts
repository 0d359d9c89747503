import type { RunPlan, CrashSagaName } from './crash-sagas.js';

/**
 * Where a child process kills itself in a run: a fraction of the run's remaining journal
 * (measured by a dry run), and whether stages called after that point do their effect first.
 */
export interface KillSpec {
  /** In [0, 1): 0 is the first event this process writes for the run, towards 1 its second-to-last. */
  readonly fraction: number;
  /**
   * `'before-effect'`: a stage function called once the run reached its kill point blocks
   * before its effect. `'after-effect'`: it does its effect and returns, but its completion is
   * never written (the crash lands between the effect and the journal).
   */
  readonly gate: 'before-effect' | 'after-effect';
}

/** A run a child process starts. */
export interface NewRun {
  readonly runId: string;
  readonly saga: CrashSagaName;
  readonly plan: RunPlan;
  readonly kill: KillSpec;
}

/** What the parent tells a crash child (as JSON in argv[2]). */
export interface CrashChildConfig {
  readonly databasePath: string;
  readonly ledgerPath: string;
  readonly durability: 'full' | 'normal';
  /**
   * `'kill'`: recover the unfinished runs, start `start`, and SIGKILL this process once every
   * run reached its kill point or settled. `'final'`: recover everything and wait until it settles.
   */
  readonly mode: 'kill' | 'final';
  /** Kill points of the unfinished runs this process recovers (kill mode). */
  readonly recover: Readonly<Record<string, KillSpec>>;
  readonly start: readonly NewRun[];
}

/** One line of a crash child's stdout. */
export type CrashChildMessage =
  | {
      readonly type: 'armed';
      readonly recovered: readonly string[];
      readonly started: readonly string[];
      /** The seq after which each run's appends are held (absent: the run is left to settle). */
      readonly killAfterSeq: Readonly<Record<string, number>>;
    }
  | { readonly type: 'killing'; readonly frozen: number; readonly settled: number }
  | { readonly type: 'settled'; readonly outcomes: Readonly<Record<string, string>> }
  | { readonly type: 'error'; readonly message: string };
