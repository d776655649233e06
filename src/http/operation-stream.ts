// A long operation (a backup, a restore) answered as it runs: 200 with one JSON object per line
// (application/x-ndjson): `{"progress":{…}}` while it works (also every few seconds, so proxies
// keep the connection), then `{"result":…}` or `{"error":{"code","message","requestId"}}`. The
// operation does not depend on the connection: a client that goes away does not stop it.
import type { Response } from 'express';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import { statusFor } from './error-handler.js';

export interface OperationProgress {
  phase: string;
  bytes: number;
}

export async function streamOperation<T>(
  res: Response,
  logger: Logger,
  run: (onProgress: (p: OperationProgress) => void) => Promise<T>,
  options: { keepAliveMs?: number } = {},
): Promise<void> {
  res.status(200);
  res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-accel-buffering', 'no'); // nginx: pass each line on at once
  res.flushHeaders();
  const line = (o: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(o) + '\n');
  };
  let last: OperationProgress = { phase: 'starting', bytes: 0 };
  let lastSent = 0;
  const onProgress = (p: OperationProgress) => {
    const phaseChanged = p.phase !== last.phase;
    last = p;
    const now = Date.now();
    if (phaseChanged || now - lastSent >= 250) {
      lastSent = now;
      line({ progress: p });
    }
  };
  const keepAlive = setInterval(() => line({ progress: last }), options.keepAliveMs ?? 5000);
  try {
    line({ progress: last });
    const result = await run(onProgress);
    line({ result });
  } catch (err) {
    const e = err instanceof AppError ? err : undefined;
    if (!e || statusFor(e.code) >= 500)
      logger.error({ err, requestId: res.locals.requestId }, 'operation failed');
    line({
      error: {
        code: e?.code ?? 'INTERNAL',
        message: e?.message ?? 'Internal server error. Quote the request id when reporting it.',
        requestId: res.locals.requestId ?? null,
        ...(e?.details ? { details: e.details } : {}),
      },
    });
  } finally {
    clearInterval(keepAlive);
    res.end();
  }
}
