// The fault proxy itself, against a loopback echo server: a cut refuses and restore accepts again;
// a stall keeps the connection open and holds the bytes, which arrive once it is lifted.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

let echo: net.Server;
let proxy: TcpProxy;
beforeAll(async () => {
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await startTcpProxy('127.0.0.1', (echo.address() as net.AddressInfo).port);
});
afterAll(async () => {
  await proxy?.close();
  await new Promise((resolve) => echo?.close(resolve));
});

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxy.port, '127.0.0.1');
    s.once('connect', () => resolve(s)).once('error', reject);
  });
}

/** The next `n` bytes echoed back, or undefined when none came within `ms`. */
function read(s: net.Socket, n: number, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= n) done(got);
    };
    const timer = setTimeout(() => done(undefined), ms);
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      s.off('data', onData);
      resolve(v);
    };
    s.on('data', onData);
  });
}

it('forwards, refuses while cut, and forwards again once restored', async () => {
  const a = await connect();
  a.write('one');
  expect(await read(a, 3, 5000)).toBe('one');
  const closed = new Promise((resolve) => a.once('close', resolve));
  await proxy.cut();
  await closed;
  await expect(connect()).rejects.toThrow(/ECONNREFUSED/);
  await proxy.restore();
  const b = await connect();
  b.write('two');
  expect(await read(b, 3, 5000)).toBe('two');
  b.destroy();
});

it('holds the bytes of open and new connections while stalled and delivers them after', async () => {
  const open = await connect();
  open.write('x');
  expect(await read(open, 1, 5000)).toBe('x');
  const before = proxy.forwardedBytes;
  proxy.stall();
  expect(proxy.stalled).toBe(true);
  const fresh = await connect(); // accepted, as a partitioned peer's SYN-ACK may still be
  open.write('held');
  fresh.write('also');
  // The stall is the absence of an answer: give it a bounded chance to (wrongly) come through.
  expect(await read(open, 4, 300)).toBeUndefined();
  expect(open.destroyed).toBe(false);
  expect(proxy.forwardedBytes).toBe(before);
  const late = [read(open, 4, 5000), read(fresh, 4, 5000)];
  proxy.unstall();
  expect(await Promise.all(late)).toEqual(['held', 'also']);
  expect(proxy.forwardedBytes).toBe(before + 8);
  open.destroy();
  fresh.destroy();
});
