// The route table resolves a request to the template Express itself would route it to, read from
// a real Express app's routers.
import express from 'express';
import { describe, expect, it } from 'vitest';
import { createRouteTable, type Listable } from './route-table.js';

function app() {
  const a = express();
  const swarms = express.Router();
  swarms.get('/api/swarms', () => {});
  swarms.post('/api/swarms', () => {});
  swarms.get('/api/swarms/:id', () => {});
  swarms.get('/api/swarms/:id/events', () => {});
  swarms.post('/api/swarms/:id/cancel', () => {});
  const nested = express.Router();
  nested.all('/ping', () => {});
  a.get('/health', () => {});
  a.use(swarms);
  a.use('/nested', nested);
  return createRouteTable(() => a.router as unknown as Listable);
}

describe('createRouteTable', () => {
  const routes = app();

  it('finds the template of every registered path and method', () => {
    expect(routes.resolve('GET', '/health')).toBe('/health');
    expect(routes.resolve('HEAD', '/health')).toBe('/health');
    expect(routes.resolve('POST', '/api/swarms')).toBe('/api/swarms');
    expect(routes.resolve('GET', '/api/swarms/3f1c')).toBe('/api/swarms/:id');
    expect(routes.resolve('GET', '/api/swarms/3f1c/events')).toBe('/api/swarms/:id/events');
    expect(routes.resolve('post', '/api/swarms/3f1c/cancel')).toBe('/api/swarms/:id/cancel');
    expect(routes.resolve('DELETE', '/nested/ping')).toBe('/nested/ping');
  });

  it('matches as the router does: trailing slash, any case, malformed escapes, absolute form', () => {
    expect(routes.resolve('GET', '/api/swarms/')).toBe('/api/swarms');
    expect(routes.resolve('GET', '/API/Swarms/x')).toBe('/api/swarms/:id');
    expect(routes.resolve('GET', '/api/swarms/%E0%A4%A')).toBe('/api/swarms/:id');
    expect(routes.resolve('GET', 'http://example.test/api/swarms/x')).toBe('/api/swarms/:id');
  });

  it('resolves nothing for a path or a method no route handles', () => {
    expect(routes.resolve('GET', '/api/nothing')).toBeUndefined();
    expect(routes.resolve('GET', '/api/swarms/x/y/z')).toBeUndefined();
    expect(routes.resolve('DELETE', '/api/swarms/x')).toBeUndefined();
    expect(routes.resolve('GET', '')).toBeUndefined();
  });
});
