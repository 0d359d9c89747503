/**
 * An `AbortController` made only when someone reads its `signal`.
 *
 * @remarks
 * Node's `AbortController` costs microseconds to create, and most stage attempts never look at
 * their signal; a saga run makes one per attempt. An abort before the signal exists is
 * remembered and applied when it is created, with its reason computed only then.
 */
export class LazyAbort {
  private controller: AbortController | undefined;
  private pendingReason: (() => unknown) | undefined;

  /** Whether `abort` was called. */
  aborted = false;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.pendingReason !== undefined) this.controller.abort(this.pendingReason());
      this.pendingReason = undefined;
    }
    return this.controller.signal;
  }

  /** Aborts with the reason `reason()` returns, computed only if the signal exists or is later read. */
  abort(reason: () => unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    if (this.controller === undefined) this.pendingReason = reason;
    else this.controller.abort(reason());
  }
}
