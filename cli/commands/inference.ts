import { inferenceStats, modelFilter } from '../../shared/collect/inferenceStats.js';
import { loadConfig } from '../../shared/config/config.js';
import { storeFor } from '../../shared/handler/resources.js';
import { JSON_FLAG, str, UsageError, type Command } from '../command.js';
import { writeJsonOrTable } from '../table.js';
import { invokeAndPrint } from './invoke.js';
import { SINCE_HELP, sinceOption, sinceWords } from './since.js';

/** `edgefleet inference stats [--since 1h] [--model M[:T]] [--node N] [--json]` (from the store, SQLite or PostgreSQL), `inference collect`. */
export const inference: Command = {
  name: 'inference',
  args: 'stats|collect',
  summary: 'stats: per model × tag × node inference figures; collect: read the containers’ new inference lines now',
  description: 'stats: count, throughput, latency p50/p90/p95/p99, errors, accuracy, cold start, node temperature and CPU (from the database).',
  flags: [
    { name: 'since', type: 'string', value: 'D', help: `${SINCE_HELP} (default 1h)` },
    { name: 'model', type: 'string', value: 'M[:T]', help: 'only this model (and tag)' },
    { name: 'node', type: 'string', value: 'NAME', help: 'only this node' },
    JSON_FLAG,
  ],
  examples: ['edgefleet inference stats --since 6h --model lab/yolo:v8', 'edgefleet inference collect'],
  async run(o, rest) {
    const sub = rest[0] ?? 'stats';
    if (sub === 'collect') return invokeAndPrint('collectInference', undefined);
    if (sub !== 'stats' || rest.length > 1) throw new UsageError('inference takes stats or collect');
    const asJson = o.json === true;
    const model = str(o.model);
    const node = str(o.node);
    const now = Math.floor(Date.now() / 1000);
    const from = sinceOption(str(o.since), '1h', now);
    const store = await storeFor(loadConfig());
    const stats = await inferenceStats(store, { fromUnixSeconds: from, toUnixSeconds: now, ...(model !== undefined ? modelFilter(model) : {}), ...(node !== undefined ? { node } : {}) });
    const ms = (v: number | undefined | null) => (v === undefined || v === null ? null : v >= 100 ? v.toFixed(0) : v.toPrecision(3));
    const pct = (v: number | null) => (v === null ? null : `${(100 * v).toFixed(1)} %`);
    // A node without thermal zones or hwmon has no temperature to average: say so, not "-".
    const latest = asJson ? new Map() : await store.latestReadings();
    const celsius = (s: (typeof stats)[number]) => (s.temperatureCelsius !== null ? s.temperatureCelsius.toFixed(1) : latest.get(s.node)?.noTemperatureSensors ? 'no sensors' : null);
    writeJsonOrTable(asJson, stats, ['MODEL', 'TAG', 'NODE', 'COUNT', 'PER S', 'P50 MS', 'P90 MS', 'P95 MS', 'P99 MS', 'ERRORS', 'ACCURACY', 'COLD START', 'TEMP °C', 'CPU %', 'W', 'J/INF', 'IGNORED'], () =>
      stats.map((s) => [
        s.model, s.tag, s.node, s.count, s.inferencesPerSecond === null ? null : s.inferencesPerSecond.toFixed(1),
        ms(s.latencyMs?.p50), ms(s.latencyMs?.p90), ms(s.latencyMs?.p95), ms(s.latencyMs?.p99), pct(s.errorRate), pct(s.accuracy),
        s.coldStartMs === null ? null : `${(s.coldStartMs / 1000).toFixed(1)} s`, celsius(s),
        s.cpuUsagePercent === null ? null : s.cpuUsagePercent.toFixed(1), s.powerWatts === null ? null : s.powerWatts.toFixed(2),
        s.joulesPerInference === null ? null : s.joulesPerInference.toPrecision(3), s.logLines.ignored + s.logLines.invalid,
      ]),
      `no inferences${model !== undefined ? ` of ${model}` : ''}${node !== undefined ? ` on ${node}` : ''} ${sinceWords(str(o.since), '1h', from)}`,
    );
    return 0;
  },
};
