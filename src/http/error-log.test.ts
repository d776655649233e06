// The lines logged for a request that fails (the access log's `request failed` and the error
// handler's `unhandled error`) name the path and the query parameter names, never their values,
// whatever the URL and the error message hold.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from '../../test/support/log-capture.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { errorHandler, notFound } from './error-handler.js';
import { httpMetrics } from './middleware/http-metrics.js';
import { requestId } from './middleware/request-id.js';

const logs = captureLogs();
let server: http.Server;
let base: string;

beforeAll(async () => {
  const logger = createLogger({ level: 'trace', version: 'test', destination: logs.stream });
  const app = express();
  app.use(requestId());
  app.use(httpMetrics(createMetrics({ version: 't', commit: 't', dataDir: '.' }), logger));
  app.get('/api/boom', (req) => {
    // A bug whose message quotes the URL it was handling.
    throw new Error(`could not handle ${req.originalUrl}`);
  });
  app.use(notFound());
  app.use(errorHandler(logger));
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('failed request lines', () => {
  it('carry no query parameter value: access log, unhandled error, its message and stack', async () => {
    const res = await fetch(`${base}/api/boom?cursor=SECRET&token=SECRET2`);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe('INTERNAL');
    const lines = logs.lines();
    expect(lines.find((l) => l.msg === 'unhandled error')).toMatchObject({
      level: 'error',
      method: 'GET',
      url: '/api/boom?cursor=[REDACTED]&token=[REDACTED]',
    });
    expect(lines.find((l) => l.msg === 'request failed')).toMatchObject({
      route: '/api/boom',
      url: '/api/boom?cursor=[REDACTED]&token=[REDACTED]',
      status: 500,
    });
    expect(lines.find((l) => l.msg === 'request started')).toMatchObject({
      url: '/api/boom?cursor=[REDACTED]&token=[REDACTED]',
    });
    expect(logs.text()).not.toContain('SECRET');
  });
});
