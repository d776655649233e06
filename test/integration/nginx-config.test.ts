// deploy/nginx/nginx.conf: its upstream keeps its state in a shared-memory zone (so max_fails and
// least_conn count across worker processes), and a real nginx accepts it (startNginx runs
// `nginx -t` first) and serves through it. The full path (two API replicas, swarms) is
// test/e2e/distributed.test.ts.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, fetch as tlsFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { NGINX_CONF, startNginx } from '../support/nginx.js';

describe('nginx configuration', () => {
  it('declares a shared-memory zone in the upstream', () => {
    const source = fs.readFileSync(NGINX_CONF, 'utf8');
    const upstream = /upstream claude_flow \{([^}]*)\}/.exec(source)?.[1] ?? '';
    expect(upstream).toMatch(/^\s*zone claude_flow \d+k;$/m);
    expect(upstream).toMatch(/max_fails=3 fail_timeout=30s/);
  });

  it('passes nginx -t and serves through the zoned upstream', async () => {
    const upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const nginx = await startNginx([`127.0.0.1:${(upstream.address() as AddressInfo).port}`]);
    try {
      expect(nginx.conf).toMatch(/zone claude_flow \d+k;/);
      const tls = new Agent({ connect: { ca: fs.readFileSync(`${nginx.dir}/tls.crt`) } });
      const res = await tlsFetch(`${nginx.url}/health`, { dispatcher: tls });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
      await tls.close();
    } finally {
      await nginx.stop();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});
