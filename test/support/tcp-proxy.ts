import net from 'node:net';

/**
 * A TCP proxy in front of a server that a test can take down and bring back, to simulate an
 * unreachable database without touching the real one (other tests share it).
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly pipes = new Set<Pipe>();
  private port = 0;
  private blackholed = false;
  private trap: Buffer | undefined;

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
      const pipe: Pipe = { downstream, upstream, dead: false };
      this.pipes.add(pipe);
      for (const socket of [downstream, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          downstream.destroy();
          upstream.destroy();
        });
      }
      // Client bytes are passed on by hand, so that a trap can stop them before they reach the server.
      downstream.on('data', (chunk: Buffer) => {
        if (pipe.dead) return;
        if (this.trap !== undefined && chunk.includes(this.trap)) {
          this.trap = undefined;
          this.cut(pipe);
          return;
        }
        upstream.write(chunk);
      });
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
    for (const pipe of this.pipes) this.cut(pipe);
    this.pipes.clear();
  }

  /**
   * Black-holes the next connection, open or new, whose client sends `marker` (a statement's text,
   * such as `LISTEN`), from that message on: the message never reaches the server and nothing more
   * moves on that connection, as if the server went silent just then. Every other connection, and
   * any later one sending the same, goes through. One trap at a time.
   */
  blackholeOnce(marker: string): void {
    this.trap = Buffer.from(marker);
  }

  /** Lets new connections through again (the black-holed ones stay dead). */
  heal(): void {
    this.blackholed = false;
  }

  private cut(pipe: Pipe): void {
    pipe.dead = true;
    pipe.upstream.unpipe(pipe.downstream);
    pipe.downstream.pause();
    pipe.upstream.pause();
  }

  /** Refuses new connections and cuts every open one, as a crashed server would. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.pipes.clear();
    this.trap = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

interface Pipe {
  readonly downstream: net.Socket;
  readonly upstream: net.Socket;
  /** Black-holed: no byte moves either way any more. */
  dead: boolean;
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
