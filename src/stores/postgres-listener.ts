import pg from 'pg';
import type { WorkSignal, WorkSignalKind } from './work-queue.js';

const SIGNAL_KINDS: ReadonlySet<string> = new Set<WorkSignalKind>(['submitted', 'requeued', 'cancel_requested', 'reconnected', 'appended']);

/** Settings of a {@link WorkListener}. Internal to the PostgreSQL store. @internal */
export interface WorkListenerOptions {
  /** How to open the dedicated connection. */
  readonly clientConfig: pg.ClientConfig;
  /** The NOTIFY channel. */
  readonly channel: string;
  /** First reconnect delay; doubles per failed attempt. */
  readonly initialRetryMs?: number;
  /** Longest reconnect delay. */
  readonly maxRetryMs?: number;
  /** How often to check that the idle connection still answers. Default 30 000 ms. */
  readonly pingIntervalMs?: number;
  /** How long a check may take before the connection is given up for dead. Default 10 000 ms. */
  readonly pingTimeoutMs?: number;
  /**
   * How long `LISTEN` may go without an answer before the connection is given up for dead (the
   * connect itself is bounded by `clientConfig.connectionTimeoutMillis`). Default `pingTimeoutMs`.
   */
  readonly answerTimeoutMs?: number;
}

interface Subscription {
  readonly listener: (signal: WorkSignal) => void;
}

/**
 * One dedicated `LISTEN` connection shared by every `onWork` listener of a store.
 * Internal to the PostgreSQL store.
 *
 * @remarks
 * A pooled client cannot listen (the pool hands it to other queries), so this keeps its own.
 * When the connection drops it reconnects with capped, jittered exponential backoff and then
 * sends `reconnected`, because notifications sent while it was down are gone. It connects on the
 * first subscription and disconnects after the last one leaves.
 *
 * A listening connection is idle for long stretches, and firewalls and NAT gateways drop idle
 * connections without telling either end; TCP keepalive notices only after many minutes. So the
 * listener pings the server every `pingIntervalMs` and reconnects when a ping does not answer.
 * Setting up (connect, then `LISTEN`) is bounded the same way, so a server that went silent fails
 * a subscription, or a reconnect that then tries again, instead of holding it for ever.
 *
 * @internal
 */
export class WorkListener {
  private readonly subscriptions = new Set<Subscription>();
  private readonly initialRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  /** How long `LISTEN` may go without an answer; see {@link WorkListenerOptions.answerTimeoutMs}. */
  readonly answerTimeoutMs: number;
  private pingTimer: NodeJS.Timeout | undefined;
  private wanted = false;
  private client: pg.Client | undefined;
  private starting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(private readonly options: WorkListenerOptions) {
    this.initialRetryMs = options.initialRetryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 5_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 30_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 10_000;
    this.answerTimeoutMs = options.answerTimeoutMs ?? this.pingTimeoutMs;
  }

  /** Whether the connection is up and listening (for tests and diagnostics). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /**
   * Adds a listener; resolves once the channel is listened to.
   * Rejects with the pg error when the first connection cannot be made.
   */
  async subscribe(listener: (signal: WorkSignal) => void): Promise<() => Promise<void>> {
    const subscription: Subscription = { listener };
    this.subscriptions.add(subscription);
    if (!this.wanted) {
      this.wanted = true;
      this.starting = this.open();
    }
    try {
      await this.starting;
    } catch (error) {
      this.subscriptions.delete(subscription);
      if (this.subscriptions.size === 0) await this.stop();
      throw error;
    }
    let subscribed = true;
    return async () => {
      if (!subscribed) return;
      subscribed = false;
      this.subscriptions.delete(subscription);
      if (this.subscriptions.size === 0) await this.stop();
    };
  }

  /** Drops every listener and the connection. Idempotent. */
  async close(): Promise<void> {
    this.subscriptions.clear();
    await this.stop();
  }

  private async stop(): Promise<void> {
    this.wanted = false;
    this.starting = undefined;
    this.failures = 0;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopPinging();
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await endWithin(client, 1_000);
  }

  private async open(): Promise<void> {
    const client = new pg.Client(this.options.clientConfig);
    let current = false;
    let gone = false;
    const onGone = (): void => {
      gone = true;
      if (current) {
        current = false;
        this.connectionLost(client);
      }
    };
    // Kept for the client's whole life: an 'error' event without a listener would crash the process.
    client.on('error', onGone);
    client.on('end', onGone);
    client.on('notification', (message) => this.dispatch(message));
    try {
      await client.connect();
      // A server gone silent never answers: without a limit of our own this would wait for good,
      // and with it every subscriber and every reconnect after it.
      const listen: pg.QueryConfig & { readonly query_timeout: number } = { text: `LISTEN "${this.options.channel}"`, query_timeout: this.answerTimeoutMs };
      await client.query(listen);
      if (gone) throw new Error('Connection terminated while starting to listen');
    } catch (error) {
      await endWithin(client, 0);
      throw error;
    }
    if (!this.wanted || this.client !== undefined) {
      // Everyone unsubscribed while this connection was being made.
      await client.end().catch(() => undefined);
      return;
    }
    current = true;
    this.client = client;
    this.startPinging(client);
  }

  private connectionLost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.stopPinging();
    // With a query still pending (a ping that got no answer), pg destroys the socket rather than
    // waiting for a goodbye that would never come.
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private startPinging(client: pg.Client): void {
    this.stopPinging();
    let inFlight = false;
    this.pingTimer = setInterval(() => {
      if (inFlight || this.client !== client) return;
      inFlight = true;
      const deadline = setTimeout(() => this.connectionLost(client), this.pingTimeoutMs);
      void client
        .query('SELECT 1')
        .catch(() => this.connectionLost(client))
        .finally(() => {
          clearTimeout(deadline);
          inFlight = false;
        });
    }, this.pingIntervalMs);
    // The connection itself keeps the process alive while listening; the check must not.
    this.pingTimer.unref();
  }

  private stopPinging(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private scheduleReconnect(): void {
    if (!this.wanted || this.retryTimer !== undefined) return;
    const ceiling = Math.min(this.maxRetryMs, this.initialRetryMs * 2 ** this.failures);
    // Jitter spreads the reconnects of many workers after a server restart.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.reconnect().catch(() => undefined);
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (!this.wanted) return;
    try {
      await this.open();
    } catch {
      this.failures++;
      this.scheduleReconnect();
      return;
    }
    this.failures = 0;
    if (this.client !== undefined) this.emit({ kind: 'reconnected' });
  }

  private dispatch(message: pg.Notification): void {
    if (message.channel !== this.options.channel) return;
    const signal = parseSignal(message.payload);
    if (signal !== undefined) this.emit(signal);
  }

  private emit(signal: WorkSignal): void {
    for (const subscription of [...this.subscriptions]) {
      try {
        subscription.listener(signal);
      } catch (error) {
        // A listener's bug must not stop the others or kill the connection; surface it as the
        // uncaught error it is rather than hide it.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/**
 * Ends a client politely, or cuts its socket when the server does not answer the goodbye (a
 * silently dropped connection would otherwise keep `close()` waiting until TCP gives up).
 */
async function endWithin(client: pg.Client, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), graceMs);
  });
  const ended = client.end().then(
    () => 'ended' as const,
    () => 'ended' as const,
  );
  if ((await Promise.race([ended, timedOut])) === 'timed out') client.connection.stream.destroy();
  clearTimeout(timer);
}

function parseSignal(payload: string | undefined): WorkSignal | undefined {
  if (payload === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { kind, runId } = parsed as { kind?: unknown; runId?: unknown };
  if (typeof kind !== 'string' || !SIGNAL_KINDS.has(kind)) return undefined;
  return typeof runId === 'string' ? { kind: kind as WorkSignalKind, runId } : { kind: kind as WorkSignalKind };
}
