import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../shared/config/config.js';
import type { Logger } from '../shared/domain/index.js';
import { isLoopbackHost, openReads } from '../shared/handler/apiKey.js';
import { jsonLogger } from '../shared/handler/logger.js';
import { backgroundSettled } from '../shared/handler/background.js';
import { closeResources, destroyConnections, POSTGRES_FUNCTIONS, storeLocation } from '../shared/handler/resources.js';
import { isPostgresUrl } from '../shared/store/pgUrl.js';
import { lambdaContext } from './lambdaContext.js';
import { loadHandler, readServerless, type LambdaHandler } from './serverlessFunctions.js';

const MAX_BODY_BYTES = 1 << 20;
/** A request whose headers and body are not in within this long gets a 408 (Node's default is 5 minutes). */
const REQUEST_TIMEOUT_MS = 30_000;

/** A request the hub cannot route: answered with this status and reason, logged at debug. */
class RequestError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `edgefleet hub`: the functions of serverless.yml on a hub host. Schedules run at their rate
 * (collectAll and the other hubIntervalFunctions at hub.intervalSeconds, below AWS's one-minute
 * floor); a run still going when its next tick comes is skipped, never doubled. The HTTP routes
 * are served as API Gateway (payload 2.0) events; no request, well-formed or not, can stop the
 * hub. SIGTERM/SIGINT: stop scheduling and serving, give what runs half of
 * hub.shutdownTimeoutSeconds, then cut every SSH connection, close the store and exit; past the
 * whole deadline the process exits whatever is left (exit 1, what was left in the log).
 */
export async function runHub(): Promise<number> {
  const config = loadConfig();
  const log = jsonLogger({ fn: 'hub' });
  const unguard = guardProcess(log);
  try {
    return await hub(config, log);
  } finally {
    unguard();
  }
}

async function hub(config: ReturnType<typeof loadConfig>, log: Logger): Promise<number> {
  const sls = readServerless();
  const loopback = isLoopbackHost(config.hub.host) && config.api.openOnLoopback;
  openReads(loopback);
  if (!loopback && config.api.keys.length + config.api.readKeys.length === 0) {
    log.warn('reads need a key here (the hub listens beyond loopback, or api.openOnLoopback is false) and no API key is configured: every route but /health answers 403 until api.readKeys or api.keys is set', { host: config.hub.host });
  }
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();

  const invoke = (name: string, handler: LambdaHandler, event: unknown) => {
    const p = handler(event, lambdaContext(name)).finally(() => running.delete(p));
    running.add(p);
    return p;
  };

  const onPostgres = isPostgresUrl(storeLocation(config));
  for (const def of sls.functions) {
    const schedule = def.schedules.find((s) => s.enabled);
    if (!schedule) continue;
    if (onPostgres && !POSTGRES_FUNCTIONS.includes(def.name)) {
      log.info('not scheduled: it needs the SQLite store (docs/postgres.md)', { function: def.name });
      continue;
    }
    const handler = await loadHandler(def);
    const seconds = sls.hubIntervalFunctions.includes(def.name) ? config.hub.intervalSeconds : schedule.rateSeconds;
    let busy = false;
    let round = 0;
    const tick = async () => {
      if (busy) {
        log.warn('previous run still going, tick skipped', { function: def.name });
        return;
      }
      busy = true;
      round++;
      try {
        const r = (await invoke(def.name, handler, { source: 'edgefleet.hub', 'detail-type': 'Scheduled Event', time: new Date().toISOString() })) as Record<string, unknown>;
        log.info('scheduled run', { function: def.name, round, nodes: r?.nodes, ok: r?.ok, failed: r?.failed, rows: r?.rows, durationMs: r?.durationMs });
      } catch (e) {
        log.error('scheduled run failed', { function: def.name, round, error: (e as Error).message });
      } finally {
        busy = false;
      }
    };
    log.info('scheduled', { function: def.name, everySeconds: seconds });
    void tick();
    timers.push(setInterval(() => void tick(), seconds * 1000));
  }

  const routes = await Promise.all(
    sls.functions.flatMap((def) => def.http.map(async (r) => ({ ...r, name: def.name, handler: await loadHandler(def), pattern: routePattern(r.path) }))),
  );

  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    // Every failure of one request ends in an answer for that request (or a closed socket), never in the process.
    serve(req, res).catch((e: unknown) => {
      const status = e instanceof RequestError ? e.statusCode : 500;
      if (status >= 500) log.error('http request failed', { method: req.method, error: (e as Error).message, stack: (e as Error).stack });
      else log.debug('http request refused', { method: req.method, status, error: (e as Error).message });
      answer(res, status, { error: status >= 500 ? 'internal error' : (e as Error).message });
    });
  });
  // A request Node's own parser refuses (bad method, header, framing, a 30 s slow loris) gets its
  // default answer (400, 431, 408) on that socket only: no 'clientError' listener replaces it.
  async function serve(req: IncomingMessage, res: ServerResponse) {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://hub');
    } catch {
      throw new RequestError(400, 'the request target is not a valid URL');
    }
    const route = routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
    if (!route) throw new RequestError(404, `no route ${req.method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_BODY_BYTES) throw new RequestError(413, 'request body too large');
        chunks.push(c as Buffer);
      }
    } catch (e) {
      if (e instanceof RequestError) throw e;
      // The client went away mid-body (a flaky link, an aborted upload): nobody to answer.
      log.debug('request body aborted', { method: req.method, path: url.pathname, error: (e as Error).message, receivedBytes: size });
      res.destroy();
      return;
    }
    const query = Object.fromEntries(url.searchParams);
    const event = {
      version: '2.0',
      routeKey: `${route.method} ${route.path}`,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')])),
      queryStringParameters: Object.keys(query).length ? query : undefined,
      pathParameters: route.pattern.exec(url.pathname)?.groups,
      requestContext: { http: { method: req.method, path: url.pathname, sourceIp: req.socket.remoteAddress }, requestId: randomUUID(), routeKey: `${route.method} ${route.path}` },
      body: chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined,
      isBase64Encoded: false,
    };
    try {
      const r = (await invoke(route.name, route.handler, event)) as { statusCode?: number; headers?: Record<string, string>; body?: string | Buffer };
      if (!res.destroyed) res.writeHead(r.statusCode ?? 200, r.headers ?? { 'content-type': 'application/json' }).end(r.body ?? '');
    } catch (e) {
      log.error('http handler failed', { function: route.name, error: (e as Error).message, stack: (e as Error).stack });
      answer(res, 500, { error: 'internal error' });
    }
  }
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(config.hub.port, config.hub.host, resolve));
  } catch (e) {
    // e.g. EADDRINUSE: stop the schedules too, or their timers keep the process alive forever.
    for (const t of timers) clearInterval(t);
    await Promise.allSettled([...running]);
    throw e;
  }
  log.info('serving', { url: `http://${config.hub.host}:${config.hub.port}`, routes: routes.map((r) => `${r.method} ${r.path}`) });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const deadlineMs = Math.max(1, config.hub.shutdownTimeoutSeconds) * 1000;
  const t0 = Date.now();
  log.info('shutting down', { signal, deadlineSeconds: deadlineMs / 1000 });
  // Past the deadline nothing is waited for: what was still running is in the log, and the
  // store's transactions make an unfinished round absent, not half-written.
  const hard = setTimeout(() => {
    log.error('shutdown deadline passed: exiting with work unfinished', { deadlineSeconds: deadlineMs / 1000, running: running.size });
    process.exit(1);
  }, deadlineMs);
  hard.unref();
  for (const t of timers) clearInterval(t);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  // What runs (a round, a deployment) gets half the deadline to finish on its own ...
  const settled = Promise.allSettled([...running]).then(() => backgroundSettled());
  if (!(await within(settled, deadlineMs / 2))) {
    // ... then every SSH connection is cut, so whatever still waits on a node (a frozen one) fails now.
    log.warn('work still running at half the shutdown deadline: cutting every SSH connection', { running: running.size });
    destroyConnections();
    await within(settled, Math.max(0, deadlineMs - (Date.now() - t0) - 500));
  }
  destroyConnections();
  await within(closed, 100);
  await closeResources();
  clearTimeout(hard);
  log.info('stopped', { durationMs: Date.now() - t0 });
  return 0;
}

/** Whether `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return r;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...(status >= 400 ? { connection: 'close' } : {}) }).end(JSON.stringify(body));
}

/**
 * A rejection nobody handled is a bug, but one of them must not stop the collection of a whole
 * fleet: it is logged at error with its stack (loudly, to be reported) and the hub goes on. An
 * uncaught exception leaves the process in an unknown state: logged, then exit 1 for the
 * service manager to restart.
 */
export function guardProcess(log: Logger): () => void {
  const onRejection = (reason: unknown) => {
    const e = reason instanceof Error ? reason : new Error(String(reason));
    log.error('BUG: unhandled promise rejection (the hub goes on; please report this)', { error: e.message, stack: e.stack });
  };
  const onException = (e: Error) => {
    log.error('BUG: uncaught exception: exiting', { error: e.message, stack: e.stack });
    process.exit(1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}

/** `/nodes/{name}` → a RegExp with named groups; `{name+}` (API Gateway's greedy variable) spans slashes. */
function routePattern(path: string): RegExp {
  const src = path
    .replace(/[.+*?^$()[\]\\|]/g, '\\$&')
    .replace(/\{(\w+)\\\+\}/g, '(?<$1>.+)')
    .replace(/\{(\w+)\}/g, '(?<$1>[^/]+)');
  return new RegExp(`^${src}/?$`);
}
