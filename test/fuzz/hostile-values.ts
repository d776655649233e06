// Hostile values for the fuzz suite's requests: strings holding what databases and parsers trip
// on (NUL, lone surrogates, huge), percent-encoding valid and broken, JSON bodies shaped like the
// API's with every field right, wrong or hostile, deep nesting, and broken Content-Encodings.
import zlib from 'node:zlib';
import fc from 'fast-check';

/** One of `choices`, each as likely as its weight: most requests are sane, a few are not. */
export const weighted = <T>(...choices: Array<[T, number]>) =>
  fc.oneof(...choices.map(([v, weight]) => ({ arbitrary: fc.constant(v), weight })));

/** `usual` four times in five, else one of `rare`. */
export const mostly = <T>(usual: T, rare: readonly T[]) =>
  fc.oneof(
    { arbitrary: fc.constant(usual), weight: 4 },
    { arbitrary: fc.constantFrom(...rare), weight: 1 },
  );

// ---- strings

/** One character: mostly any code point, often one a database or a JSON parser trips on. */
const hostileUnit = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 6 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), weight: 3 },
  {
    arbitrary: fc.constantFrom(
      '\u0000',
      '\ud800',
      '\udbff',
      '\udc00',
      '\udfff',
      '\ud83d',
      '"',
      '\\',
      '\n',
      '\u2028',
      '\ufeff',
      '\u202e',
      '%',
      '/',
      '..',
    ),
    weight: 3,
  },
);

export const hostileString = fc.oneof(
  { arbitrary: fc.string({ unit: hostileUnit, maxLength: 30 }), weight: 8 },
  { arbitrary: fc.nat({ max: 30_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', 'coder', 'impl-a', '../../etc/passwd', '.'), weight: 2 },
);

/** Percent-encodes the UTF-8 of `s` (a lone surrogate becomes U+FFFD, as Buffer encodes it). */
export const percentEncode = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

/** Raw pieces of a path segment or query value, valid and broken percent-encoding alike. */
export const encodedPiece = fc.oneof(
  hostileString.map(percentEncode),
  fc.constantFrom(
    '%',
    '%2',
    '%zz',
    '%00',
    '%C0%AF',
    '%ED%A0%80',
    '%F0%9F%98%80',
    '%E0%A4%A',
    '%25',
    '%2F',
    '%2e%2e',
    '..',
    '.',
    '~',
    '@:;=+,$!*()',
    '%FF%FE',
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map((s) => s.replace(/[\s#?]/g, '')),
);

// ---- bodies

const jsonish = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Objects shaped like the API's bodies, each field right, wrong or hostile. */
const field = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: jsonish, weight: 1 });

const swarmBody = fc.record(
  {
    objective: field(fc.oneof(hostileString, fc.constant('write a slugify function'))),
    strategy: field(fc.constantFrom('cfn-loop', 'parallel', 'sequential', 'hierarchical')),
    mode: field(fc.constantFrom('mvp', 'standard', 'enterprise')),
    agents: field(fc.array(fc.constantFrom('impl-a', 'impl-b', 'coder'), { maxLength: 3 })),
    validators: field(
      fc.array(
        fc.oneof(
          fc.constantFrom('val-a', 'reviewer'),
          fc.record({ agent: fc.constantFrom('val-a') }),
          fc.record({ command: hostileString }),
        ),
        { maxLength: 2 },
      ),
    ),
    workspace: field(hostileString),
    budget: field(fc.record({ maxTokens: fc.integer(), maxCostUsd: fc.double() })),
    approval: field(fc.constantFrom('auto', 'human')),
    webhookUrl: field(fc.webUrl()),
    maxIterations: field(fc.integer({ min: -2, max: 60 })),
    extra: jsonish,
  },
  { requiredKeys: ['objective'] },
);

/**
 * A swarm the service accepts (202) but for its objective, which may still be hostile: so
 * submissions reach the store and the engine, not only validation.
 */
const runnableSwarm = fc.record(
  {
    objective: fc.oneof(
      hostileString,
      fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
      fc.constant('write a slugify function'),
    ),
    agents: fc.constantFrom(['impl-a'], ['impl-a', 'impl-b']),
    validators: fc.constantFrom(['val-a'], []),
    mode: fc.constantFrom('mvp', 'standard'),
    approval: fc.constantFrom('auto', 'human'),
    budget: fc.record({ maxTokens: fc.integer({ min: 1, max: 100_000 }) }),
    maxIterations: fc.integer({ min: 1, max: 3 }),
  },
  { requiredKeys: ['objective', 'agents'] },
);

const keyBody = fc.record(
  { name: field(hostileString), role: field(fc.constantFrom('viewer', 'operator', 'admin')) },
  { requiredKeys: [] },
);

const decisionBody = fc.record(
  {
    decision: field(fc.constantFrom('PROCEED', 'ITERATE', 'ABORT')),
    feedback: field(hostileString),
  },
  { requiredKeys: [] },
);

const deep = fc
  .tuple(fc.nat({ max: 20_000 }), fc.constantFrom('[', '{"a":'))
  .map(([n, open]) => open.repeat(n) + '1' + (open === '[' ? ']' : '}').repeat(n));

const bodyText = fc.oneof(
  { arbitrary: swarmBody.map((b) => JSON.stringify(b)), weight: 4 },
  { arbitrary: runnableSwarm.map((b) => JSON.stringify(b)), weight: 3 },
  { arbitrary: keyBody.map((b) => JSON.stringify(b)), weight: 2 },
  { arbitrary: decisionBody.map((b) => JSON.stringify(b)), weight: 2 },
  { arbitrary: jsonish.map((v) => JSON.stringify(v) ?? 'null'), weight: 2 },
  { arbitrary: deep, weight: 1 },
  {
    arbitrary: fc.constantFrom('', '{', '{"objective":', 'null', '"x"', '[]', '\ufeff{}', 'a=b'),
    weight: 1,
  },
);

const bodyBytes = fc.oneof(
  { arbitrary: bodyText.map((t) => Buffer.from(t, 'utf8')), weight: 8 },
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), weight: 1 },
);

export interface EncodedBody {
  body: Buffer;
  encoding: string | undefined;
}

/** An encoding header and the body as sent: compressed right, compressed wrong, or not at all. */
export const encodedBody = (bytes: fc.Arbitrary<Buffer>): fc.Arbitrary<EncodedBody> =>
  fc
    .tuple(
      bytes,
      weighted<string | undefined>(
        [undefined, 24],
        ['gzip', 2],
        ['deflate', 1],
        ['br', 1],
        ['identity', 1],
        ['compress', 1],
        ['gzip, br', 1],
        ['x-nope', 1],
      ),
      weighted(['right', 2], ['garbage', 1], ['truncated', 1]),
    )
    .map(([body, encoding, how]): EncodedBody => {
      if (encoding === undefined || encoding === 'identity' || how === 'garbage')
        return { body, encoding };
      const compress: Record<string, (b: Buffer) => Buffer> = {
        gzip: (b) => zlib.gzipSync(b),
        deflate: (b) => zlib.deflateSync(b),
        br: (b) => zlib.brotliCompressSync(b),
      };
      const packed = compress[encoding]?.(body) ?? body;
      return {
        body: how === 'truncated' ? packed.subarray(0, packed.length >> 1) : packed,
        encoding,
      };
    });

/** Any body, for any route. */
export const encoded = encodedBody(bodyBytes);

const json = (a: fc.Arbitrary<unknown>) => a.map((v) => Buffer.from(JSON.stringify(v) ?? 'null'));

/**
 * A body for the route `path` takes (POST): mostly one it accepts but for a hostile string, so
 * what reaches the stores is exercised, sometimes any body at all.
 */
export function bodyForRoute(path: string): fc.Arbitrary<EncodedBody> {
  const own =
    path === '/api/keys'
      ? json(
          fc.record({
            name: fc.oneof(
              hostileString,
              fc.string({ unit: 'binary', minLength: 1, maxLength: 90 }),
            ),
            role: fc.constantFrom('viewer', 'operator', 'admin'),
          }),
        )
      : path === '/api/swarms'
        ? json(
            fc.oneof({ arbitrary: runnableSwarm, weight: 3 }, { arbitrary: swarmBody, weight: 1 }),
          )
        : path.endsWith('/decision')
          ? json(decisionBody)
          : path === '/api/admin/blocklist'
            ? json(
                fc.record({
                  address: fc.oneof(
                    fc.ipV4(),
                    fc.ipV6(),
                    fc.constantFrom('127.0.0.1', '::ffff:10.1.2.3', '10.0.0.0/8'),
                    hostileString,
                  ),
                  reason: fc.oneof(hostileString, fc.string({ minLength: 1, maxLength: 80 })),
                  durationSeconds: fc.oneof(
                    fc.integer({ min: 1, max: 3600 }),
                    fc.constantFrom(0, -1, 1e12, 1.5),
                  ),
                }),
              )
            : json(jsonish);
  return encodedBody(fc.oneof({ arbitrary: own, weight: 5 }, { arbitrary: bodyBytes, weight: 1 }));
}
