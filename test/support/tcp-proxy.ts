// A loopback TCP proxy a test can cut and restore, to make a real dependency unreachable without
// stopping the shared service.
import net from 'node:net';
import { createTestDatabase } from './services.js';

export interface TcpProxy {
  port: number;
  /** Refuses new connections and destroys open ones. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;

  async function listen(): Promise<void> {
    const s = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      sockets.add(client).add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream).pipe(client);
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
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await listen();
  return {
    get port() {
      return port;
    },
    cut,
    restore: listen,
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
