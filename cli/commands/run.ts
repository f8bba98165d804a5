import type { CollectionSummary } from '../../shared/collect/collection.js';
import { inventoryNodes } from '../../shared/collect/collection.js';
import { loadConfig } from '../../shared/config/config.js';
import { progress } from '../../shared/handler/progress.js';
import { resolveSsmSecrets } from '../../shared/config/ssmSecrets.js';
import { storeFor } from '../../shared/handler/resources.js';
import { redactUrl } from '../../shared/store/pgUrl.js';
import { invokeByName, JSON_FLAG, type Command } from '../command.js';
import { READING_HEADERS, readingCells, type ReadingColumn } from '../readings.js';
import { writeJsonOrTable } from '../table.js';

const READINGS: ReadingColumn[] = ['temperature', 'cpu', 'load', 'memory', 'storage', 'rx', 'tx', 'gpu', 'power'];

/** `edgefleet run`: one collectAll round here, a table per node; exit 4 unreachable, 2 rejected data. */
export const run: Command = {
  name: 'run',
  summary: 'collect every kind from every node once; a table per node',
  description: 'Exit 0 all up; 1 a node’s settings cannot work (no SSH credentials, a bad ansible_port); 4 a node was unreachable; 2 a node answered but its data was rejected (the first that applies).',
  flags: [JSON_FLAG],
  examples: ['edgefleet run -i inventory/hosts.ini', 'edgefleet run --json | jq .perNode'],
  async run(o) {
    const asJson = o.json === true;
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
    const config = await resolveSsmSecrets(loadConfig());
    const store = await storeFor(config);
    const latest = await store.latestReadings();
    const rows = summary.perNode.map((r) => ({ ...r, latest: latest.get(r.node) ?? null }));
    const now = Math.floor(Date.now() / 1000);
    writeJsonOrTable(asJson, { ...summary, perNode: rows }, ['NODE', 'STATUS', ...READINGS.map((c) => READING_HEADERS[c]), 'ROWS', 'MS', 'ERROR'], () =>
      rows.map((r) => [r.node, r.status, ...readingCells(r.latest, READINGS, now), r.rows, Math.round(r.durationMs), r.error ?? '']),
      `no nodes in the inventory ${config.inventory}: add hosts to it (see edgefleet init)`,
    );
    if (!asJson && rows.length) {
      process.stdout.write(`\n${summary.ok}/${summary.nodes} nodes up, ${summary.rows} rows in ${summary.durationMs} ms → ${store.kind === 'sqlite' ? config.db : redactUrl(store.where)}\n`);
      if (rows.some((r) => r.status === 'up') && rows.every((r) => r.latest?.cpuUsagePercent == null)) {
        process.stdout.write('CPU usage and network rates are deltas between two rounds: run again, or start the hub.\n');
      }
    }
    // The first that applies: the user's to fix (settings), then the network's, then the node's data.
    if (summary.perNode.some((r) => r.errorKind === 'config')) return 1;
    if (summary.perNode.some((r) => r.status === 'unreachable')) return 4;
    if (summary.perNode.some((r) => r.status === 'error')) return 2;
    return 0;
  },
};
