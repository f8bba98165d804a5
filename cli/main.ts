import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { inventoryNodes } from '../shared/collect/collection.js';
import { geolocate, type AddressProgress, type GeolocateSummary } from '../shared/collect/geolocate.js';
import { loadConfig } from '../shared/config/config.js';
import { loadInventory, toAnsibleList } from '../shared/inventory/index.js';
import { jsonLogger } from '../shared/handler/logger.js';
import { progress } from '../shared/handler/progress.js';
import { backgroundSettled } from '../shared/handler/background.js';
import { closeResources, dbFor } from '../shared/handler/resources.js';
import { latestReadings, listModels, listNodes, modelRegistries, setModelDescription, syncNodes, type ModelRow } from '../shared/store/index.js';
import type { ModelSyncSummary } from '../shared/collect/models.js';
import { parseModelReference } from '../shared/parse/registry.js';
import { parseSince } from '../shared/detect/since.js';
import { listAnomalies } from '../shared/store/anomalies.js';
import { inferenceStats, modelFilter } from '../shared/collect/inferenceStats.js';
import { runHub } from './hub.js';
import { deployCommand, deploymentsCommand, type DeployFlags } from './deploy.js';
import { lambdaContext } from './lambdaContext.js';
import { CONFIG_TEMPLATE, LOCAL_INVENTORY } from './configTemplate.js';
import { loadHandler, readServerless } from './serverlessFunctions.js';
import { ago, bytes, fmt, writeJsonOrTable } from './table.js';

const USAGE = `edgefleet — watch a fleet of edge nodes from an Ansible inventory

Usage: edgefleet COMMAND [options]

Commands:
  run                      collect every kind from every node once; a table per node
  nodes                    sync the nodes from the inventory and list them (with location and its source)
  geolocate [--refresh]    locate the nodes from their inventory address or latitude/longitude
                           (cached; --refresh looks every address up again)
  hub                      run the scheduled handlers and HTTP routes of serverless.yml until SIGTERM
  invoke FUNCTION          run one handler of serverless.yml once (--event FILE: its JSON event)
  inventory --list         print the inventory as ansible-inventory --list does
  models [list]            the model catalog of the configured registries (from the database; no network)
  models sync              read every configured registry into the catalog now
  models describe NAME[:TAG] [--set TEXT] [--registry R]
                           one model's tags, platforms, sizes, labels; --set writes a person's description
                           (kept apart from the image's own label; --set '' removes it)
  anomalies [--since D]    anomalous episodes (detector and rules), newest first; --since 30m, 6h, 7d or a time
                           (default 24h; open episodes always shown); --open: only open ones; --node NAME
  deploy MODEL:TAG         deploy a model image to --nodes a,b or --group g: pull, create, start, verify, then
                           replace the previous container (--env K=V, --publish H:C, --volume SRC:/DST[:ro],
                           --restart POLICY, --grace SECONDS, --concurrency N, --registry R); a bar per node
  pull MODEL:TAG           download the image only;  start|stop|remove MODEL[:TAG]: act on its container
  inference stats          per model × tag × node: count, throughput, latency p50/p90/p95/p99, errors, accuracy,
                           cold start, node temperature and CPU (--since 1h, --model M[:T], --node N)
  inference collect        read every edgefleet container's new inference lines now (collectInference)
  deployments [ID]         the latest deployments, or one with each node's state and every event
  init                     write edgefleet.yaml (when missing), create or upgrade the database, sync the nodes

Options (every command):
  -i, --inventory FILE     Ansible inventory (INI or YAML)       [EDGEFLEET_INVENTORY]
      --db PATH            SQLite database                        [EDGEFLEET_DB]
      --config FILE        configuration file                     [EDGEFLEET_CONFIG]
      --json               JSON instead of a table
  -v, --verbose            log each step (JSON lines on stderr)
  -h, --help
Hub: --interval SECONDS (collectAll), --port PORT, --host ADDRESS
Exit codes: 0 all well; 1 bad input or configuration; 2 a node's data was rejected; 4 a node was unreachable.`;

/** Exit status for a user error (bad flags, config, inventory). */
class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        inventory: { type: 'string', short: 'i' },
        db: { type: 'string' },
        config: { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        list: { type: 'boolean' },
        event: { type: 'string' },
        interval: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        force: { type: 'boolean' },
        refresh: { type: 'boolean' },
        since: { type: 'string' },
        open: { type: 'boolean' },
        node: { type: 'string' },
        model: { type: 'string' },
        set: { type: 'string' },
        registry: { type: 'string' },
        nodes: { type: 'string' },
        group: { type: 'string' },
        env: { type: 'string', multiple: true },
        'publish': { type: 'string', multiple: true, short: 'p' },
        volume: { type: 'string', multiple: true },
        restart: { type: 'string' },
        grace: { type: 'string' },
        concurrency: { type: 'string' },
      },
    });
  } catch (e) {
    process.stderr.write(`edgefleet: ${(e as Error).message}\n\n${USAGE}\n`);
    return 1;
  }
  const { values: o, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (o.help || !command) {
    process.stdout.write(USAGE + '\n');
    return command || o.help ? 0 : 1;
  }
  // Flags become the environment the handlers read, so a handler sees the same configuration
  // whether the CLI, the hub, serverless-offline or AWS runs it.
  if (o.config) process.env.EDGEFLEET_CONFIG = o.config;
  if (o.inventory) process.env.EDGEFLEET_INVENTORY = o.inventory;
  if (o.db) process.env.EDGEFLEET_DB = o.db;
  if (o.interval) process.env.EDGEFLEET_HUB_INTERVAL_SECONDS = o.interval;
  if (o.port) process.env.EDGEFLEET_HUB_PORT = o.port;
  if (o.host) process.env.EDGEFLEET_HUB_HOST = o.host;
  process.env.EDGEFLEET_LOG_LEVEL ??= o.verbose ? 'info' : command === 'hub' ? 'info' : 'warn';

  try {
    switch (command) {
      case 'run':
        return await run(o.json ?? false);
      case 'nodes':
        return await nodes(o.json ?? false);
      case 'geolocate':
        return await geolocateCommand(o.json ?? false, o.refresh ?? false);
      case 'hub':
        return await runHub();
      case 'invoke':
        return await invoke(rest[0], o.event);
      case 'inventory':
        return inventory(o.list ?? false);
      case 'init':
        return init(o.force ?? false);
      case 'anomalies':
        return anomaliesCommand(o.json ?? false, o.since, o.open ?? false, o.node);
      case 'models':
        return await modelsCommand(rest, o.json ?? false, o.set, o.registry);
      case 'deploy':
      case 'pull':
      case 'start':
      case 'stop':
      case 'remove':
        if (rest.length !== 1) throw new UsageError(`${command} takes one MODEL${command === 'deploy' || command === 'pull' ? ':TAG' : '[:TAG]'}`);
        if ((o.nodes === undefined) === (o.group === undefined)) throw new UsageError(`${command}: give --nodes a,b or --group g`);
        return await deployCommand(command, rest[0], { ...pick(o), json: o.json ?? false }, invokeByName);
      case 'inference':
        return await inferenceCommand(rest, o.json ?? false, o.since, o.model, o.node);
      case 'deployments':
        if (rest.length > 1) throw new UsageError('deployments takes at most one ID');
        return deploymentsCommand(rest[0], o.json ?? false);
      default:
        throw new UsageError(`unknown command "${command}"; see edgefleet --help`);
    }
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`edgefleet: ${err.message}\n`);
    if (process.env.EDGEFLEET_LOG_LEVEL === 'debug' && err.stack) process.stderr.write(err.stack + '\n');
    return 1;
  } finally {
    // `invoke createDeployment` answers at once: its deployment runs to the end first.
    await backgroundSettled();
    await closeResources();
  }
}

function pick(o: Record<string, unknown>): Omit<DeployFlags, 'json'> {
  const f: Omit<DeployFlags, 'json'> = {};
  for (const k of ['nodes', 'group', 'registry', 'restart', 'grace', 'concurrency'] as const) if (typeof o[k] === 'string') f[k] = o[k] as string;
  if (Array.isArray(o.env)) f.env = o.env as string[];
  if (Array.isArray(o.publish)) f.port = o.publish as string[];
  if (Array.isArray(o.volume)) f.volume = o.volume as string[];
  return f;
}

async function invokeByName(name: string, event: unknown): Promise<unknown> {
  const sls = readServerless();
  const def = sls.functions.find((f) => f.name === name);
  if (!def) throw new UsageError(`unknown function "${name}"; serverless.yml has: ${sls.functions.map((f) => f.name).join(', ')}`);
  const handler = await loadHandler(def);
  return handler(event, lambdaContext(name));
}

async function run(asJson: boolean): Promise<number> {
  const tty = process.stderr.isTTY && !asJson;
  const onNode = (_fn: string, r: { node: string; status: string }, done: number, total: number) => {
    if (tty) process.stderr.write(`\r\x1b[Kcollecting ${done}/${total} nodes (${r.node}: ${r.status})`);
  };
  // Read the inventory before the handler opens (and creates) the database: a malformed file
  // is exit 1 with its file and line, and nothing is written.
  inventoryNodes(loadConfig());
  progress.on('node', onNode);
  let summary: CollectionSummary;
  try {
    summary = (await invokeByName('collectAll', {})) as CollectionSummary;
  } finally {
    progress.off('node', onNode);
    if (tty) process.stderr.write('\r\x1b[K');
  }
  const config = loadConfig();
  const db = dbFor(config);
  const latest = latestReadings(db);
  const rows = summary.perNode.map((r) => ({ ...r, latest: latest.get(r.node) ?? null }));
  writeJsonOrTable(asJson, { ...summary, perNode: rows }, ['NODE', 'STATUS', 'TEMP', 'CPU', 'LOAD1', 'MEM', 'DISK', 'RX', 'TX', 'ROWS', 'MS', 'ERROR'], () =>
    rows.map((r) => [
      r.node,
      r.status,
      fmt(r.latest?.maxCelsius, 1, '°C'),
      fmt(r.latest?.cpuUsagePercent, 1, '%'),
      fmt(r.latest?.load1, 2),
      fmt(r.latest?.memoryUsedPercent, 1, '%'),
      fmt(r.latest?.fullestDiskPercent, 1, '%'),
      bytes(r.latest?.rxBytesPerSecond, '/s'),
      bytes(r.latest?.txBytesPerSecond, '/s'),
      r.rows,
      Math.round(r.durationMs),
      r.error ?? '',
    ]),
  );
  if (!asJson) {
    process.stdout.write(`\n${summary.ok}/${summary.nodes} nodes up, ${summary.rows} rows in ${summary.durationMs} ms → ${config.db}\n`);
    if (rows.some((r) => r.status === 'up') && rows.every((r) => r.latest?.cpuUsagePercent == null)) {
      process.stdout.write('CPU usage and network rates are deltas between two rounds: run again, or start the hub.\n');
    }
  }
  if (summary.perNode.some((r) => r.status === 'unreachable')) return 4;
  if (summary.perNode.some((r) => r.status === 'error')) return 2;
  return 0;
}

async function nodes(asJson: boolean): Promise<number> {
  const config = loadConfig();
  const specs = inventoryNodes(config);
  const db = dbFor(config);
  syncNodes(db, specs, Math.floor(Date.now() / 1000), { keepVars: config.store.keepVars });
  // Inventory coordinates and cached addresses, without the network (`geolocate` looks the rest up).
  await geolocate({ db, nodes: specs, config, log: jsonLogger({ fn: 'nodes' }), maxLookups: 0 });
  const all = listNodes(db);
  writeJsonOrTable(
    asJson,
    all.map(({ vars: _v, ...n }) => n),
    ['NODE', 'GROUPS', 'HOST', 'CONNECTION', 'STATUS', 'LAST SEEN', 'LOCATION', 'SOURCE', 'LAST ERROR'],
    () =>
      all.map((n) => [
        n.name,
        n.groups.join(',') || '-',
        n.connection === 'local' ? 'local' : `${n.user ? n.user + '@' : ''}${n.host}:${n.port}`,
        n.connection,
        n.status,
        ago(n.lastSeenUnixSeconds),
        location(n.latitude, n.longitude),
        n.locationSource,
        n.lastError ?? '',
      ]),
  );
  return 0;
}

const location = (lat: number | null, lon: number | null) => (lat !== null && lon !== null ? `${lat.toFixed(5)},${lon.toFixed(5)}` : null);

async function geolocateCommand(asJson: boolean, refresh: boolean): Promise<number> {
  const tty = process.stderr.isTTY && !asJson;
  const onAddress = (_fn: string, p: AddressProgress, done: number, total: number) => {
    if (tty) process.stderr.write(`\r\x1b[Kgeocoding ${done}/${total} addresses (${p.address.slice(0, 40)}: ${p.status}${p.precision ? ' ' + p.precision : ''})`);
  };
  inventoryNodes(loadConfig());
  progress.on('address', onAddress);
  let summary: GeolocateSummary;
  try {
    summary = (await invokeByName('geolocate', { refresh })) as GeolocateSummary;
  } finally {
    progress.off('address', onAddress);
    if (tty) process.stderr.write('\r\x1b[K');
  }
  writeJsonOrTable(asJson, summary, ['NODE', 'ADDRESS', 'LOCATION', 'SOURCE', 'PRECISION', 'PLACE OR ERROR'], () =>
    summary.perNode.map((n) => [n.node, n.address, location(n.latitude, n.longitude), n.source, n.precision, n.error ?? n.displayName ?? '']),
  );
  if (asJson) return 0;
  const b = summary.bySource;
  process.stdout.write(
    `\n${summary.located}/${summary.nodes} nodes located (inventory ${b.inventory}, geocoded ${b.geocoded}, cached ${b.cached}, pending ${b.pending}, failed ${b.failed}); ` +
      `${summary.lookups} addresses looked up in ${summary.requests} requests${summary.deferred ? `, ${summary.deferred} left for the next run` : ''}\n`,
  );
  return 0;
}

async function invoke(name: string | undefined, eventFile: string | undefined): Promise<number> {
  if (!name) throw new UsageError('invoke needs a FUNCTION name (see serverless.yml)');
  let event: unknown = {};
  if (eventFile) {
    try {
      event = JSON.parse(readFileSync(eventFile, 'utf8'));
    } catch (e) {
      throw new UsageError(`--event ${eventFile}: ${(e as Error).message}`);
    }
  }
  const result = await invokeByName(name, event);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}

function inventory(list: boolean): number {
  if (!list) throw new UsageError('inventory needs --list');
  const config = loadConfig();
  process.stdout.write(JSON.stringify(toAnsibleList(loadInventory(config.inventory)), null, 4) + '\n');
  return 0;
}

function init(force: boolean): number {
  const file = process.env.EDGEFLEET_CONFIG ?? 'edgefleet.yaml';
  if (!existsSync(file) || force) {
    writeFileSync(file, CONFIG_TEMPLATE);
    process.stdout.write(`wrote ${file}\n`);
  } else {
    process.stdout.write(`${file} exists (--force to overwrite)\n`);
  }
  const config = loadConfig();
  if (!existsSync(config.inventory)) {
    // A first inventory to start from: the hub itself.
    mkdirSync(dirname(config.inventory), { recursive: true });
    writeFileSync(config.inventory, LOCAL_INVENTORY);
    process.stdout.write(`wrote ${config.inventory} (this machine; add your nodes to it)\n`);
  }
  const specs = inventoryNodes(config);
  const sync = syncNodes(dbFor(config), specs, Math.floor(Date.now() / 1000), { keepVars: config.store.keepVars });
  jsonLogger({ fn: 'init' }).info('nodes synced', { ...sync });
  process.stdout.write(`database ${config.db} ready; nodes: ${sync.added.length} added, ${sync.updated.length} updated, ${sync.removed.length} removed, ${sync.unchanged} unchanged\n`);
  return 0;
}

const REGISTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** `edgefleet models [list|sync|describe NAME[:TAG] [--set TEXT]]`. */
async function modelsCommand(args: string[], asJson: boolean, set: string | undefined, registry: string | undefined): Promise<number> {
  const [sub = 'list', name, ...extra] = args;
  if (extra.length) throw new UsageError(`models ${sub}: unexpected ${JSON.stringify(extra.join(' '))}`);
  if (registry !== undefined && !REGISTRY_NAME.test(registry)) throw new UsageError(`--registry must match ${REGISTRY_NAME}`);
  if (set !== undefined && sub !== 'describe') throw new UsageError('--set goes with models describe NAME[:TAG]');
  if (sub === 'sync') return modelsSync(asJson);
  const config = loadConfig();
  const db = dbFor(config);
  if (sub === 'list') {
    if (name !== undefined) throw new UsageError(`models list takes no NAME (models describe ${name})`);
    const models = listModels(db, registry !== undefined ? { registry } : {});
    writeJsonOrTable(asJson, models, ['MODEL', 'PLATFORMS', 'SIZE', 'CREATED', 'TASK', 'FRAMEWORK', 'DESCRIPTION', 'REGISTRY', 'ERROR'], () =>
      models.map((m) => [`${m.repository}:${m.tag}`, m.platforms.map((p) => p.platform).join(',') || null, bytes(m.sizeBytes), day(m.createdUnixSeconds), m.task, m.framework, short(m.description, 60), m.registry, short(m.error, 60)]),
    );
    if (!asJson && models.length === 0) process.stdout.write(config.registries.length ? '\nno models yet: edgefleet models sync reads the registries\n' : '\nno registries configured: registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL\n');
    return 0;
  }
  if (sub !== 'describe') throw new UsageError(`unknown models command "${sub}" (list, sync, describe)`);
  if (!name) throw new UsageError('models describe needs NAME[:TAG]');
  let ref;
  try {
    ref = parseModelReference(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const filter = { repository: ref.repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}), ...(registry !== undefined ? { registry } : {}), includeRemoved: true };
  if (listModels(db, filter).length === 0) throw new UsageError(`no model ${name}${registry ? ` in registry ${registry}` : ''} in the catalog (edgefleet models sync reads the registries)`);
  if (set !== undefined) {
    const registries = registry !== undefined ? [registry] : modelRegistries(db, ref.repository, ref.tag);
    if (registries.length > 1) throw new UsageError(`${name} is in several registries (${registries.join(', ')}): name one with --registry`);
    setModelDescription(db, registries[0]!, ref.repository, ref.tag, set, Math.floor(Date.now() / 1000));
  }
  const models = listModels(db, filter);
  if (asJson) {
    process.stdout.write(JSON.stringify(models, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(models.map(describeModel).join('\n') + '\n');
  return 0;
}

function describeModel(m: ModelRow): string {
  const lines: [string, string | number | null | undefined][] = [
    ['model', `${m.repository}:${m.tag}`],
    ['registry', m.registry],
    ['status', m.removedUnixSeconds !== null ? `removed ${ago(m.removedUnixSeconds)}` : m.error ? 'error' : 'ok'],
    ['title', m.title],
    ['description', m.description],
    ['  by a person', m.personDescription ? `${m.personDescription.text}${m.personDescription.tag === null ? ' (every tag)' : ''}` : null],
    ['  image label', m.labelDescription],
    ['version', m.version],
    ['task', m.task],
    ['framework', m.framework],
    ['input', m.input],
    ['output', m.output],
    ['created', m.createdUnixSeconds !== null ? new Date(m.createdUnixSeconds * 1000).toISOString() : null],
    ['digest', m.digest],
    ['size', m.sizeBytes !== null ? `${bytes(m.sizeBytes)} (largest platform: layers + config)` : null],
    ...m.platforms.map((p): [string, string] => ['platform', `${p.platform}  ${bytes(p.sizeBytes)}  ${p.digest}`]),
    ['first seen', ago(m.firstSeenUnixSeconds)],
    ['last seen', ago(m.lastSeenUnixSeconds)],
    ['error', m.error],
  ];
  const labels = Object.entries(m.labels).map(([k, v]): [string, string] => [`label ${k}`, v]);
  return [...lines, ...labels].filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${(k + ':').padEnd(14)} ${v}`).join('\n') + '\n';
}

async function modelsSync(asJson: boolean): Promise<number> {
  const config = loadConfig();
  if (config.registries.length === 0) throw new UsageError('no registries configured: registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL');
  const summary = (await invokeByName('collectModels', {})) as ModelSyncSummary;
  writeJsonOrTable(asJson, summary, ['REGISTRY', 'URL', 'STATUS', 'REPOS', 'TAGS', 'READ', 'UNCHANGED', 'FAILED', 'REMOVED', 'MS'], () =>
    summary.registries.map((r) => [r.registry, r.url, r.status, r.repositories, r.tags, r.read, r.unchanged, r.failed, r.removed, r.durationMs]),
  );
  if (!asJson) {
    for (const r of summary.registries) {
      if (r.error) process.stderr.write(`edgefleet: ${r.error}\n`);
      for (const e of r.errors) process.stderr.write(`edgefleet: ${e.repository}${e.tag ? ':' + e.tag : ''}: ${e.error}\n`);
    }
  }
  const failed = summary.registries.filter((r) => r.status === 'failed');
  if (failed.some((r) => r.errorKind === 'auth' || r.errorKind === 'config')) return 1;
  if (failed.length) return 4;
  if (summary.registries.some((r) => r.failed > 0)) return 2;
  return 0;
}

const short = (s: string | null, n: number) => (s === null ? null : s.length > n ? s.slice(0, n - 1) + '…' : s);
const day = (unixSeconds: number | null) => (unixSeconds === null ? null : new Date(unixSeconds * 1000).toISOString().slice(0, 10));

/** `--since` (a duration back from now, unix seconds or an ISO time), or `fallback` without it. */
function sinceOption(since: string | undefined, fallback: string, nowUnixSeconds: number): number {
  try {
    return parseSince(since ?? fallback, nowUnixSeconds);
  } catch (e) {
    throw new UsageError(`--since: ${(e as Error).message}`);
  }
}

/** `edgefleet anomalies [--since D] [--open] [--node N] [--json]`: from the database, no network. */
function anomaliesCommand(asJson: boolean, since: string | undefined, openOnly: boolean, node: string | undefined): number {
  const sinceUnixSeconds = sinceOption(since, '24h', Math.floor(Date.now() / 1000));
  const rows = listAnomalies(dbFor(loadConfig()), { sinceUnixSeconds, open: openOnly, ...(node !== undefined ? { node } : {}) });
  const when = (t: number | null) => (t === null ? null : new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19));
  writeJsonOrTable(asJson, rows, ['NODE', 'SERIES', 'LABEL', 'DETECTOR', 'KIND', 'START', 'END', 'SAMPLES', 'PEAK', 'MESSAGE'], () =>
    rows.map((a) => [a.node, a.series, a.label || null, a.detector, a.kind, when(a.startUnixSeconds), a.endUnixSeconds === null ? 'open' : when(a.endUnixSeconds), a.samples, a.peakScore.toFixed(3), a.message]),
  );
  if (!asJson && rows.length === 0) process.stdout.write(`\nno anomalies since ${when(sinceUnixSeconds)} UTC\n`);
  return 0;
}


/** `edgefleet inference stats [--since 1h] [--model M[:T]] [--node N] [--json]` (from the database), `inference collect`. */
async function inferenceCommand(rest: string[], asJson: boolean, since: string | undefined, model: string | undefined, node: string | undefined): Promise<number> {
  const sub = rest[0] ?? 'stats';
  if (sub === 'collect') return invoke('collectInference', undefined);
  if (sub !== 'stats' || rest.length > 1) throw new UsageError('inference takes stats or collect');
  const now = Math.floor(Date.now() / 1000);
  const from = sinceOption(since, '1h', now);
  const stats = inferenceStats(dbFor(loadConfig()), { fromUnixSeconds: from, toUnixSeconds: now, ...(model !== undefined ? modelFilter(model) : {}), ...(node !== undefined ? { node } : {}) });
  const ms = (v: number | undefined | null) => (v === undefined || v === null ? null : v >= 100 ? v.toFixed(0) : v.toPrecision(3));
  const pct = (v: number | null) => (v === null ? null : `${(100 * v).toFixed(1)} %`);
  writeJsonOrTable(asJson, stats, ['MODEL', 'TAG', 'NODE', 'COUNT', 'PER S', 'P50 MS', 'P90 MS', 'P95 MS', 'P99 MS', 'ERRORS', 'ACCURACY', 'COLD START', 'TEMP °C', 'CPU %', 'IGNORED'], () =>
    stats.map((s) => [
      s.model, s.tag, s.node, s.count, s.inferencesPerSecond === null ? null : s.inferencesPerSecond.toFixed(1),
      ms(s.latencyMs?.p50), ms(s.latencyMs?.p90), ms(s.latencyMs?.p95), ms(s.latencyMs?.p99), pct(s.errorRate), pct(s.accuracy),
      s.coldStartMs === null ? null : `${(s.coldStartMs / 1000).toFixed(1)} s`, s.temperatureCelsius === null ? null : s.temperatureCelsius.toFixed(1),
      s.cpuUsagePercent === null ? null : s.cpuUsagePercent.toFixed(1), s.logLines.ignored + s.logLines.invalid,
    ]),
  );
  if (!asJson && stats.length === 0) process.stdout.write(`\nno inferences since ${new Date(from * 1000).toISOString()}\n`);
  return 0;
}
