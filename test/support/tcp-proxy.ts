// A loopback TCP proxy a test can cut, stall and restore, to make a real dependency unreachable
// (refused) or partitioned (connections stay open, no byte gets through) without stopping the
// shared service.
import net from 'node:net';
import { createTestDatabase } from './services.js';

export interface TcpProxy {
  port: number;
  /** Refuses new connections and destroys open ones. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  /**
   * A partition: open connections stay open and new ones are accepted, but no byte is forwarded
   * either way; what was sent meanwhile is held and delivered on unstall(), as TCP does once a
   * partition heals.
   */
  stall(): void;
  /** Forwards again, starting with what was held. */
  unstall(): void;
  readonly stalled: boolean;
  /** Bytes forwarded from clients to the target so far (a test can see traffic arrive). */
  readonly forwardedBytes: number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let server: net.Server | undefined;
  let port = 0;
  let stalled = false;
  let forwardedBytes = 0;

  const flow = ({ client, upstream }: Pair) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const hold = ({ client, upstream }: Pair) => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  };

  async function listen(): Promise<void> {
    const s = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      const pair = { client, upstream };
      pairs.add(pair);
      const end = () => {
        client.destroy();
        upstream.destroy();
        pairs.delete(pair);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.on('data', (d: Buffer) => (forwardedBytes += d.length));
      if (stalled) hold(pair);
      else flow(pair);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  }

  async function cut(): Promise<void> {
    const s = server;
    server = undefined;
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await listen();
  return {
    get port() {
      return port;
    },
    get stalled() {
      return stalled;
    },
    get forwardedBytes() {
      return forwardedBytes;
    },
    cut,
    restore: listen,
    stall() {
      stalled = true;
      for (const p of pairs) hold(p);
    },
    unstall() {
      stalled = false;
      for (const p of pairs) flow(p);
    },
    close: cut,
  };
}

export interface ProxiedTestDatabase {
  /** The database's URL through the proxy: what the service under test connects to. */
  url: string;
  proxy: TcpProxy;
  /** Closes the proxy and drops the database. */
  close(): Promise<void>;
}

/** A test database of its own, reached through a proxy the test can cut and restore. */
export async function createProxiedTestDatabase(): Promise<ProxiedTestDatabase> {
  const db = await createTestDatabase();
  const u = new URL(db.url);
  const proxy = await startTcpProxy(u.hostname, Number(u.port || 5432));
  u.port = String(proxy.port);
  return {
    url: u.toString(),
    proxy,
    async close() {
      await proxy.close();
      await db.drop();
    },
  };
}
