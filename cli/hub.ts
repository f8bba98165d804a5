import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../shared/config/config.js';
import { jsonLogger } from '../shared/handler/logger.js';
import { backgroundSettled } from '../shared/handler/background.js';
import { closeResources } from '../shared/handler/resources.js';
import { lambdaContext } from './lambdaContext.js';
import { loadHandler, readServerless, type LambdaHandler } from './serverlessFunctions.js';

const MAX_BODY_BYTES = 1 << 20;

/**
 * `edgefleet hub`: the functions of serverless.yml on a hub host. Schedules run at their rate
 * (collectAll and the other hubIntervalFunctions at hub.intervalSeconds, below AWS's one-minute
 * floor); a run still going when its next tick comes is skipped, never doubled. The HTTP routes
 * are served as API Gateway (payload 2.0) events. SIGTERM/SIGINT: stop scheduling, finish what
 * runs, close connections, exit 0.
 */
export async function runHub(): Promise<number> {
  const config = loadConfig();
  const log = jsonLogger({ fn: 'hub' });
  const sls = readServerless();
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();

  const invoke = (name: string, handler: LambdaHandler, event: unknown) => {
    const p = handler(event, lambdaContext(name)).finally(() => running.delete(p));
    running.add(p);
    return p;
  };

  for (const def of sls.functions) {
    const schedule = def.schedules.find((s) => s.enabled);
    if (!schedule) continue;
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

  const server = createServer((req, res) => void serve(req, res));
  async function serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://hub');
    const route = routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.method} ${url.pathname}` }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'request body too large' }));
        return;
      }
      chunks.push(c as Buffer);
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
      const r = (await invoke(route.name, route.handler, event)) as { statusCode?: number; headers?: Record<string, string>; body?: string };
      res.writeHead(r.statusCode ?? 200, r.headers ?? { 'content-type': 'application/json' }).end(r.body ?? '');
    } catch (e) {
      log.error('http handler failed', { function: route.name, error: (e as Error).message });
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'internal error' }));
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

  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('shutting down');
  for (const t of timers) clearInterval(t);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await Promise.allSettled([...running]);
  // Deployments started by POST /deployments finish before the store closes.
  await backgroundSettled();
  await closeResources();
  log.info('stopped');
  return 0;
}

/** `/nodes/{name}` → a RegExp with named groups; `{name+}` (API Gateway's greedy variable) spans slashes. */
function routePattern(path: string): RegExp {
  const src = path
    .replace(/[.+*?^$()[\]\\|]/g, '\\$&')
    .replace(/\{(\w+)\\\+\}/g, '(?<$1>.+)')
    .replace(/\{(\w+)\}/g, '(?<$1>[^/]+)');
  return new RegExp(`^${src}/?$`);
}
