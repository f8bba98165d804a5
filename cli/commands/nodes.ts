import { inventoryNodes } from '../../shared/collect/collection.js';
import { geolocate } from '../../shared/collect/geolocate.js';
import { loadConfig } from '../../shared/config/config.js';
import { jsonLogger } from '../../shared/handler/logger.js';
import { storeFor } from '../../shared/handler/resources.js';
import type { NodeRow } from '../../shared/store/index.js';
import { JSON_FLAG, type Command } from '../command.js';
import { READING_HEADERS, readingCells, type ReadingColumn } from '../readings.js';
import { localTime, writeJsonOrTable } from '../table.js';

const READINGS: ReadingColumn[] = ['temperature', 'cpu', 'memory', 'storage', 'gpu', 'power'];

/** An SSM node's agent in one cell: `Online 3.3.1142.0 Ubuntu 22.04`. */
export const ssmAgentCell = (a: NodeRow['ssmAgent']) =>
  a ? [a.pingStatus, a.agentVersion, [a.platformName, a.platformVersion].filter(Boolean).join(' ')].filter(Boolean).join(' ') : null;

export const location = (lat: number | null, lon: number | null) => (lat !== null && lon !== null ? `${lat.toFixed(5)},${lon.toFixed(5)}` : null);

/** `edgefleet nodes`: sync the nodes table to the inventory and list it (no network to the nodes; SQLite or PostgreSQL). */
export const nodes: Command = {
  name: 'nodes',
  summary: 'sync the nodes from the inventory and list them: status, latest readings, SSM nodes\' agents, location and its source',
  description: 'A reading the node’s newest round did not get (unreachable, or rejected) is shown stale with its age: 71.2 °C (stale, 3 min).',
  flags: [JSON_FLAG],
  examples: ['edgefleet nodes -i inventory/hosts.ini'],
  async run(o) {
    const asJson = o.json === true;
    const config = loadConfig();
    const specs = inventoryNodes(config);
    const store = await storeFor(config);
    await store.syncNodes(specs, Math.floor(Date.now() / 1000), { keepVars: config.store.keepVars });
    // Inventory coordinates and cached addresses, without the network (`geolocate` looks the rest up).
    await geolocate({ db: store.sql, nodes: specs, config, log: jsonLogger({ fn: 'nodes' }), maxLookups: 0 });
    const all = await store.listNodes();
    const latest = await store.latestReadings();
    const now = Math.floor(Date.now() / 1000);
    writeJsonOrTable(
      asJson,
      all.map(({ vars: _v, ...n }) => ({ ...n, latest: latest.get(n.name) ?? null })),
      ['NODE', 'GROUPS', 'HOST', 'CONNECTION', 'STATUS', 'LAST SEEN', ...READINGS.map((c) => READING_HEADERS[c]), 'SSM AGENT', 'LOCATION', 'SOURCE', 'LAST ERROR'],
      () =>
        all.map((n) => [
          n.name,
          n.groups.join(',') || '-',
          n.connection === 'local' ? 'local' : `${n.user ? n.user + '@' : ''}${n.host}:${n.port}`,
          n.connection,
          n.status,
          localTime(n.lastSeenUnixSeconds) ?? 'never',
          ...readingCells(latest.get(n.name), READINGS, now),
          ssmAgentCell(n.ssmAgent),
          location(n.latitude, n.longitude),
          n.locationSource,
          n.lastError ?? '',
        ]),
      `no nodes in the inventory ${config.inventory}: add hosts to it (see edgefleet init)`,
    );
    return 0;
  },
};
