import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_WATCHED_CERTIFICATES,
  describeCertTarget,
  parseCertTarget,
  parseWatchList,
} from './tls-target.js';

describe('parseCertTarget', () => {
  it('reads host:port as a server and anything with a slash or no colon as a file', () => {
    expect(parseCertTarget('example.com:443')).toEqual({
      kind: 'tls',
      host: 'example.com',
      port: 443,
    });
    expect(parseCertTarget('[::1]:8443')).toEqual({ kind: 'tls', host: '::1', port: 8443 });
    expect(parseCertTarget('/etc/nginx/tls/tls.crt')).toEqual({
      kind: 'file',
      path: '/etc/nginx/tls/tls.crt',
    });
    expect(parseCertTarget('tls.crt')).toEqual({ kind: 'file', path: 'tls.crt' });
    expect(parseCertTarget('./localhost:443')).toEqual({ kind: 'file', path: './localhost:443' });
  });

  it('refuses a port out of range and a colon that is no host:port', () => {
    for (const bad of ['example.com:0', 'example.com:65536', 'example.com:https', ' ', 'a::b'])
      expect(parseCertTarget(bad)).toHaveProperty('error');
  });

  it('round-trips every host:port it accepts', () => {
    const host = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$/);
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
        const t = parseCertTarget(`${h}:${port}`);
        expect(t).toEqual({ kind: 'tls', host: h, port });
        expect(describeCertTarget(t as never)).toBe(`${h}:${port}`);
      }),
    );
  });
});

describe('parseWatchList', () => {
  it('reads comma-separated targets, each optionally name=target', () => {
    expect(parseWatchList(' web=/etc/nginx/tls/tls.crt , api.example.com:443,')).toEqual([
      { name: 'web', target: { kind: 'file', path: '/etc/nginx/tls/tls.crt' } },
      {
        name: 'api.example.com:443',
        target: { kind: 'tls', host: 'api.example.com', port: 443 },
      },
    ]);
    expect(parseWatchList('')).toEqual([]);
    // A path with = in it is not a name.
    expect(parseWatchList('/srv/a=b.crt')).toEqual([
      { name: '/srv/a=b.crt', target: { kind: 'file', path: '/srv/a=b.crt' } },
    ]);
  });

  it('names the entry at fault, never quoting it', () => {
    expect(parseWatchList('a.crt,web=secret.example.com:99999')).toEqual({
      error: 'entry 2: expected a port between 1 and 65535',
    });
    expect(parseWatchList('web=a.crt,web=b.crt')).toEqual({
      error: 'entry 2: expected a name no other entry has (name=target)',
    });
    expect(parseWatchList('9web=a.crt')).toHaveProperty(
      'error',
      expect.stringMatching(/^entry 1: /),
    );
    const many = Array.from({ length: MAX_WATCHED_CERTIFICATES + 1 }, (_, i) => `c${i}.crt`);
    expect(parseWatchList(many.join(','))).toHaveProperty('error');
  });

  it('keeps the names given and their order, for any list of distinct names', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 65535 }),
        (names, port) => {
          const list = parseWatchList(
            names.map((n, i) => `${n}=host${i}.example:${port}`).join(','),
          );
          expect(Array.isArray(list) && list.map((w) => w.name)).toEqual(names);
        },
      ),
    );
  });
});
