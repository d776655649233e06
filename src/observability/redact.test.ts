import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';
import fc from 'fast-check';
import { redactQueryValues, redactUrl, redactUrlCredentials, scrubObject } from './redact.js';

describe('redactUrlCredentials', () => {
  it('hides passwords inside URLs and keeps the rest', () => {
    expect(redactUrlCredentials('postgres://claudeflow:s3cr3t@db:5432/claudeflow')).toBe(
      'postgres://claudeflow:[REDACTED]@db:5432/claudeflow',
    );
    expect(redactUrlCredentials('see redis://:pw@cache:6379 and https://host/x')).toBe(
      'see redis://:[REDACTED]@cache:6379 and https://host/x',
    );
    expect(redactUrlCredentials('mailto user@example.com')).toBe('mailto user@example.com');
  });

  it('scrubs nested values and errors, and survives cycles', () => {
    const o: Record<string, unknown> = {
      a: { b: ['postgres://u:pw@h/d'] },
      err: new Error('connect postgres://u:pw@h failed'),
    };
    o.self = o;
    const out = JSON.stringify(scrubObject(o), (k, v: unknown) => (k === 'self' ? undefined : v));
    expect(out).not.toContain(':pw@');
    expect(out).toContain('[REDACTED]');
  });
});

describe('logger redaction', () => {
  it('never writes secrets: authorization headers, keys, passwords, URL credentials', () => {
    let text = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
    const log = createLogger({ level: 'info', version: '1.2.3', destination: sink });
    log.info({ req: { headers: { authorization: 'Bearer cfn_secret_value' } } }, 'r');
    log.info(
      { apiKey: 'cfn_secret_value', password: 'hunter2', nested: { token: 'tok_secret' } },
      'k',
    );
    log.info(
      { databaseUrl: 'postgres://app:hunter3@db/x' },
      'connecting to postgres://app:hunter4@db/x',
    );
    for (const secret of ['cfn_secret_value', 'hunter2', 'tok_secret', 'hunter3', 'hunter4']) {
      expect(text).not.toContain(secret);
    }
    const first = JSON.parse(text.split('\n')[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      level: 'info',
      service: 'claude-flow-novice',
      version: '1.2.3',
      msg: 'r',
    });
    expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe('error serialization', () => {
  it('keeps the error class and code, and drops query parameters', () => {
    class QueryFailed extends Error {
      override name = 'QueryFailed';
      code = '23505';
    }
    const e = new QueryFailed(
      'Failed query: insert into "api_keys" values ($1)\nparams: 9f86d081884c7d65,secret',
    );
    const out = scrubObject({ err: e }) as { err: Record<string, unknown> };
    expect(out.err.type).toBe('QueryFailed');
    expect(out.err.code).toBe('23505');
    expect(out.err.message).toBe(
      'Failed query: insert into "api_keys" values ($1)\nparams: [REDACTED]',
    );
    expect(JSON.stringify(out)).not.toContain('9f86d081884c7d65');
  });
});

describe('query parameter values', () => {
  it('keeps the path and the parameter names of a URL, never a value', () => {
    expect(redactUrl('/api/swarms?cursor=SECRET&token=SECRET2')).toBe(
      '/api/swarms?cursor=[REDACTED]&token=[REDACTED]',
    );
    expect(redactUrl('/api/swarms')).toBe('/api/swarms');
    expect(redactUrl('/api/swarms?')).toBe('/api/swarms');
    // Malformed: bare values, odd names, broken escapes, a fragment, absolute form with credentials.
    expect(redactUrl('/x?SECRET&=SECRET2&a%ZZ=SECRET3&&b=1=2#SECRET4')).toBe(
      '/x?[REDACTED]&[REDACTED]&a%ZZ=[REDACTED]&b=[REDACTED]',
    );
    expect(redactUrl('http://u:pw@host/x?token=SECRET')).toBe(
      'http://u:[REDACTED]@host/x?token=[REDACTED]',
    );
    expect(redactUrl(`/${'a'.repeat(5000)}`)).toHaveLength(1025);
  });

  it('never lets a value through, for any query (property)', () => {
    const name = fc.stringMatching(/^[a-z_]{1,10}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9%+.~-]{0,12}$/).map((v) => `SECRET${v}`);
    const part = fc.oneof(
      fc.tuple(name, value).map(([n, v]) => `${n}=${v}`),
      value,
      value.map((v) => `=${v}`),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), fc.constantFrom('&', ';'), (parts, sep) => {
        const url = `/api/swarms?${parts.join(sep)}`;
        expect(redactUrl(url)).not.toContain('SECRET');
        expect(redactQueryValues(`failed GET ${url} (cache:${url})`)).not.toContain('SECRET');
      }),
    );
  });

  it('scrubs values from URLs inside any logged string, and drops request bodies from errors', () => {
    let text = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
    const log = createLogger({ level: 'info', version: '1', destination: sink });
    // ioredis puts the command (the cache key holds the URL) on its reply errors.
    const replyError = Object.assign(new Error('ERR something'), {
      command: { name: 'get', args: ['cfn:cache:/api/agents?cursor=SECRET1&token=SECRET2'] },
    });
    // body-parser puts the raw body on its errors.
    const parseError = Object.assign(new Error('Unexpected token'), {
      type: 'entity.parse.failed',
      body: '{"password":"SECRET3"',
    });
    log.warn({ err: replyError }, 'response cache unavailable; serving without it');
    log.error({ err: parseError }, 'request to https://api.example.test/v1/x?key=SECRET4 failed');
    for (const secret of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4'])
      expect(text).not.toContain(secret);
    expect(text).toContain('/api/agents?cursor=[REDACTED]&token=[REDACTED]');
    expect(text).toContain('Unexpected token');
  });
});
