import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { gracefulClose } from './graceful-close.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.closeAllConnections();
});

async function start(quietMs = 50) {
  const server = http.createServer((_req, res) => res.end('ok'));
  servers.push(server);
  const close = gracefulClose(server, quietMs);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, close, port: (server.address() as net.AddressInfo).port };
}

/** A raw keep-alive connection: sends requests, collects what comes back. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString()));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    send: () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    received: () => received,
    ended,
    socket,
  };
}

const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(what()).toBe(true);
};

describe('gracefulClose', () => {
  it('answers a request that arrives after the close began, with Connection: close', async () => {
    const { close, port } = await start();
    const c = await connect(port);
    c.send();
    await until(() => c.received().includes('ok'));
    const closed = close.close();
    // The client's next request, already on its way when the server began to close.
    c.send();
    await until(() => c.received().split('HTTP/1.1 200').length === 3);
    expect(c.received().split('HTTP/1.1 200')[2]).toMatch(/connection: close/i);
    await c.ended;
    await closed;
  });

  it('ends a kept-alive connection only once it has been quiet for the quiet time', async () => {
    const { close, port } = await start(100);
    const c = await connect(port);
    c.send();
    await until(() => c.received().includes('ok'));
    const closed = close.close();
    const t0 = Date.now();
    close.closeQuiet(t0);
    expect(c.socket.destroyed).toBe(false);
    // Bytes of a request arriving make it busy again: not ended at the quiet time's end.
    c.socket.write('GET / HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 20));
    close.closeQuiet(t0 + 150);
    expect(c.received().split('HTTP/1.1 200').length).toBe(2);
    c.socket.write('Host: x\r\n\r\n');
    await c.ended; // answered with Connection: close, then ended by the server
    expect(c.received().split('HTTP/1.1 200').length).toBe(3);
    await closed;
  });

  it('ends an idle connection after the quiet time', async () => {
    const { close, port } = await start(30);
    const c = await connect(port);
    c.send();
    await until(() => c.received().includes('ok'));
    const closed = close.close();
    close.closeQuiet();
    expect(c.socket.destroyed).toBe(false);
    await new Promise((r) => setTimeout(r, 40));
    close.closeQuiet();
    await c.ended;
    await closed;
  });
});
