import net from 'node:net';

/**
 * A TCP proxy in front of a server that a test can take down and bring back, to simulate an
 * unreachable database without touching the real one (other tests share it).
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly pipes = new Set<{ readonly downstream: net.Socket; readonly upstream: net.Socket }>();
  private port = 0;
  private blackholed = false;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** The port to connect to; stable across down/up. */
  get listenPort(): number {
    return this.port;
  }

  /** Starts accepting connections (on the same port as before, after a `down`). */
  async up(): Promise<void> {
    const server = net.createServer((downstream) => {
      this.sockets.add(downstream);
      downstream.on('close', () => this.sockets.delete(downstream));
      downstream.on('error', () => downstream.destroy());
      // A black hole accepts connections and never answers.
      if (this.blackholed) return;
      const upstream = net.connect(this.targetPort, this.targetHost);
      this.pipes.add({ downstream, upstream });
      for (const socket of [downstream, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          downstream.destroy();
          upstream.destroy();
        });
      }
      downstream.pipe(upstream);
      upstream.pipe(downstream);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address !== null && typeof address === 'object') this.port = address.port;
    this.server = server;
  }

  /**
   * Stops moving bytes without closing anything, as a firewall dropping an idle connection
   * does: nobody is told, requests just get no answer. New connections hang the same way.
   */
  blackhole(): void {
    this.blackholed = true;
    for (const { downstream, upstream } of this.pipes) {
      downstream.unpipe(upstream);
      upstream.unpipe(downstream);
      downstream.pause();
      upstream.pause();
    }
    this.pipes.clear();
  }

  /** Lets new connections through again (the black-holed ones stay dead). */
  heal(): void {
    this.blackholed = false;
  }

  /** Refuses new connections and cuts every open one, as a crashed server would. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.pipes.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A proxy, up, in front of the server a connection string names, and the same connection string
 * through the proxy.
 */
export async function proxyTo(connectionString: string): Promise<{ readonly proxy: TcpProxy; readonly url: string }> {
  const target = new URL(connectionString);
  const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
  await proxy.up();
  const proxied = new URL(target.href);
  proxied.port = String(proxy.listenPort);
  return { proxy, url: proxied.href };
}
