import { loadConfig } from '../../shared/config/config.js';
import { storeFor } from '../../shared/handler/resources.js';
import { listAnomalies } from '../../shared/store/anomalies.js';
import { JSON_FLAG, str, UsageError, type Command } from '../command.js';
import { localTime, writeJsonOrTable } from '../table.js';
import { SINCE_HELP, sinceOption, sinceWords } from './since.js';

/** `edgefleet anomalies [--since D] [--open] [--node N] [--json]`: from the store (SQLite or PostgreSQL), no network to the nodes. */
export const anomalies: Command = {
  name: 'anomalies',
  summary: 'anomalous episodes (detector and rules), newest first',
  description: 'Episodes that started within --since (default 24h); open episodes are always shown.',
  flags: [
    { name: 'since', type: 'string', value: 'D', help: SINCE_HELP },
    { name: 'open', type: 'boolean', help: 'only open episodes' },
    { name: 'node', type: 'string', value: 'NAME', help: 'only this node' },
    JSON_FLAG,
  ],
  examples: ['edgefleet anomalies --since 6h', 'edgefleet anomalies --open --node jetson-01'],
  async run(o, args) {
    if (args.length) throw new UsageError(`anomalies: unexpected ${JSON.stringify(args.join(' '))}`);
    const asJson = o.json === true;
    const node = str(o.node);
    const sinceUnixSeconds = sinceOption(str(o.since), '24h', Math.floor(Date.now() / 1000));
    const rows = await listAnomalies((await storeFor(loadConfig())).sql, { sinceUnixSeconds, open: o.open === true, ...(node !== undefined ? { node } : {}) });
    const open = o.open === true;
    writeJsonOrTable(asJson, rows, ['NODE', 'SERIES', 'LABEL', 'DETECTOR', 'KIND', 'START', 'END', 'SAMPLES', 'PEAK', 'MESSAGE'], () =>
      rows.map((a) => [a.node, a.series, a.label || null, a.detector, a.kind, localTime(a.startUnixSeconds), a.endUnixSeconds === null ? 'open' : localTime(a.endUnixSeconds), a.samples, a.peakScore.toFixed(3), a.message]),
      `no ${open ? 'open ' : ''}anomalies${node !== undefined ? ` on ${node}` : ''} ${open ? 'now' : `${sinceWords(str(o.since), '24h', sinceUnixSeconds)}, and none open`}`,
    );
    return 0;
  },
};
