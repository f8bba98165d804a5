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
import { closeResources, dbFor } from '../shared/handler/resources.js';
import { latestReadings, listNodes, syncNodes } from '../shared/store/index.js';
import { runHub } from './hub.js';
import { lambdaContext } from './lambdaContext.js';
import { CONFIG_TEMPLATE, LOCAL_INVENTORY } from './configTemplate.js';
import { loadHandler, readServerless } from './serverlessFunctions.js';
import { ago, bytes, fmt, table } from './table.js';

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
      default:
        throw new UsageError(`unknown command "${command}"; see edgefleet --help`);
    }
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`edgefleet: ${err.message}\n`);
    if (process.env.EDGEFLEET_LOG_LEVEL === 'debug' && err.stack) process.stderr.write(err.stack + '\n');
    return 1;
  } finally {
    await closeResources();
  }
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
  if (asJson) {
    process.stdout.write(JSON.stringify({ ...summary, perNode: rows }, null, 2) + '\n');
  } else {
    process.stdout.write(
      table(
        ['NODE', 'STATUS', 'TEMP', 'CPU', 'LOAD1', 'MEM', 'DISK', 'RX', 'TX', 'ROWS', 'MS', 'ERROR'],
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
      ) + '\n',
    );
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
  syncNodes(db, specs, Math.floor(Date.now() / 1000));
  // Inventory coordinates and cached addresses, without the network (`geolocate` looks the rest up).
  await geolocate({ db, nodes: specs, config, log: jsonLogger({ fn: 'nodes' }), maxLookups: 0 });
  const all = listNodes(db);
  if (asJson) {
    process.stdout.write(JSON.stringify(all.map(({ vars: _v, ...n }) => n), null, 2) + '\n');
    return 0;
  }
  process.stdout.write(
    table(
      ['NODE', 'GROUPS', 'HOST', 'CONNECTION', 'STATUS', 'LAST SEEN', 'LOCATION', 'SOURCE', 'LAST ERROR'],
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
    ) + '\n',
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
  if (asJson) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(
    table(
      ['NODE', 'ADDRESS', 'LOCATION', 'SOURCE', 'PRECISION', 'PLACE OR ERROR'],
      summary.perNode.map((n) => [n.node, n.address, location(n.latitude, n.longitude), n.source, n.precision, n.error ?? n.displayName ?? '']),
    ) + '\n',
  );
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
  const sync = syncNodes(dbFor(config), specs, Math.floor(Date.now() / 1000));
  jsonLogger({ fn: 'init' }).info('nodes synced', { ...sync });
  process.stdout.write(`database ${config.db} ready; nodes: ${sync.added.length} added, ${sync.updated.length} updated, ${sync.removed.length} removed, ${sync.unchanged} unchanged\n`);
  return 0;
}
