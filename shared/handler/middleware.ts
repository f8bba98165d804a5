import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Config } from '../config/config.js';
import type { Logger } from '../domain/index.js';
import type { Db } from '../store/db.js';
import type { Store } from '../store/store.js';
import type { TransportPool } from '../transport/pool.js';
import { requireApiKey } from './apiKey.js';
import { HttpError } from './errors.js';
import { jsonLogger } from './logger.js';
import { resolveSsmSecrets } from '../config/ssmSecrets.js';
import { configFromEnv, dbFor, poolFor, storeFor } from './resources.js';

/** What every edgefleet handler finds on its context, put there by the middlewares. */
export interface EdgefleetContext extends Context {
  config: Config;
  log: Logger;
  /** The SQLite database (the paths not behind the Store yet); on PostgreSQL, a StoreError saying so. */
  db: Db;
  /** The store, either kind (shared/store/store.ts), opened on first use. */
  store: () => Promise<Store>;
  pool: TransportPool;
}

/** An API Gateway HTTP event (payload 2.0) or a REST one (1.0): both carry these. */
export interface HttpEvent {
  rawPath?: string;
  path?: string;
  queryStringParameters?: Record<string, string | undefined> | null;
  pathParameters?: Record<string, string | undefined> | null;
  headers?: Record<string, string | undefined>;
  body?: string | null;
  requestContext?: { http?: { method: string } };
  httpMethod?: string;
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** A response whose body is bytes: only for a caller that writes them as they are (the hub, lambdaContext's `bytesBody`). */
export interface BytesResult extends Omit<HttpResult, 'body'> {
  body: Buffer;
}

export function isHttpEvent(event: unknown): event is HttpEvent {
  return typeof event === 'object' && event !== null && ('requestContext' in event || 'httpMethod' in event) && ('rawPath' in event || 'path' in event);
}

/** The request's JSON body (base64-decoded when API Gateway says so); a 400 when it is not JSON. */
export function jsonBody(event: HttpEvent): unknown {
  const raw = event.body ?? '';
  try {
    return JSON.parse((event as { isBase64Encoded?: boolean }).isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw);
  } catch {
    throw new HttpError(400, 'the body must be a JSON object');
  }
}

export function json(statusCode: number, body: unknown): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** Configuration, then logging with the request id, then the store and connection pool. */
const resources = (name: string): MiddlewareObj<unknown, unknown, Error, EdgefleetContext> => {
  let startMs = 0;
  return {
    async before(request) {
      startMs = performance.now();
      const ctx = request.context;
      ctx.log = jsonLogger({ fn: name, requestId: ctx.awsRequestId });
      // `ssm:/path` values come from Parameter Store, read once per process (config/ssmSecrets.ts).
      const config = (ctx.config = await resolveSsmSecrets(configFromEnv()));
      // Opened on first use, so a handler that fails on its input first creates no database.
      Object.defineProperty(ctx, 'db', { get: () => dbFor(config), configurable: true });
      ctx.store = () => storeFor(config);
      ctx.pool = poolFor(config);
    },
    after(request) {
      request.context.log.debug('done', { durationMs: Math.round(performance.now() - startMs) });
    },
    onError(request) {
      const log = request.context.log ?? jsonLogger({ fn: name, requestId: request.context.awsRequestId });
      const e = request.error!;
      const status = e instanceof HttpError ? e.statusCode : 500;
      log[status < 500 ? 'warn' : 'error']('failed', { error: e.message, name: e.name, durationMs: Math.round(performance.now() - startMs) });
    },
  };
};

/**
 * Errors become HTTP responses in one place: below 500 they are shown as they are, anything
 * else is a generic 500 (the detail went to the log). Scheduled events get the error rethrown,
 * so the scheduler sees the failure.
 */
const httpErrors = (): MiddlewareObj<unknown, unknown, Error, EdgefleetContext> => ({
  onError(request) {
    if (!isHttpEvent(request.event)) return;
    const e = request.error!;
    request.response = e instanceof HttpError && e.statusCode < 500 ? json(e.statusCode, { error: e.message }) : json(500, { error: 'internal error' });
  },
});

/**
 * Every HTTP route needs a key before its handler runs: GET/HEAD a read key (none from the hub on
 * loopback, see apiKey.ts), any other method one of api.keys. `open`: the handler decides
 * (GET /health answers its status to anyone, the details only to readers).
 */
const access = (open: boolean): MiddlewareObj<unknown, unknown, Error, EdgefleetContext> => ({
  before(request) {
    if (open || !isHttpEvent(request.event)) return;
    const method = (request.event.requestContext?.http?.method ?? request.event.httpMethod ?? 'GET').toUpperCase();
    requireApiKey(request.event, request.context.config, { access: method === 'GET' || method === 'HEAD' ? 'read' : 'write' });
  },
});

/** Every handler: `(event, context) => result`, Lambda's signature, with the shared stack. */
export function makeHandler<E, R>(name: string, fn: (event: E, context: EdgefleetContext) => Promise<R>, opts: { open?: boolean } = {}) {
  return middy<E, R, Error, EdgefleetContext>()
    .use(httpErrors() as MiddlewareObj<E, R, Error, EdgefleetContext>)
    .use(resources(name) as MiddlewareObj<E, R, Error, EdgefleetContext>)
    .use(access(opts.open ?? false) as MiddlewareObj<E, R, Error, EdgefleetContext>)
    .handler(fn);
}
