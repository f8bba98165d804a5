import { NODE_DEPLOY_STATES } from '../domain/index.js';
import { remoteWriteStatesOf } from '../store/remoteWrite.js';
import { changeStamp, inferenceLatencyHistograms, latestDeploymentStates, openAnomalyCounts, readSnapshots } from '../store/snapshots.js';
import { Mutex, type SqlDb } from '../store/sql.js';
import { asSql, type SqlOrDb } from '../store/sqliteSql.js';
import type { Store } from '../store/store.js';
import { ExpositionWriter, OPENMETRICS_CONTENT_TYPE, renderLabels, seriesText, TEXT_CONTENT_TYPE, type Family } from './exposition.js';
import { NODE_FAMILY_LIST, nodeLabelPairs, readingSamples, runSamples, statusSamples, UNAME_KINDS, unameSample, type NodeLabels, type SampleSink } from './nodeMetrics.js';

/** Inference latency buckets, seconds: the inference dashboard's heatmap bounds (0.1 ms to 10 s). */
export const INFERENCE_LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

const f = (name: string, type: Family['type'], help: string, unit?: string): Family => ({ name, type, help, unit });

export const FLEET_FAMILIES = {
  inferenceLatency: f('edgefleet_inference_latency_seconds', 'histogram', 'Latency of the inferences each model tag reported on the node (stored ones; cumulative since the hub process started counting).', 'seconds'),
  anomaliesOpen: f('edgefleet_anomalies_open', 'gauge', 'Anomalous episodes still open, per series, detector and kind (GET /anomalies?open=true).'),
  deploymentState: f('edgefleet_deployment_state', 'gauge', "1 for the state of the node's newest deployment of the model tag, 0 for the other states."),
  rwQueueSamples: f('edgefleet_remote_write_queue_samples', 'gauge', 'Samples queued in the store for the remote-write endpoint, not sent yet.'),
  rwQueueRequests: f('edgefleet_remote_write_queue_requests', 'gauge', 'Requests queued in the store for the remote-write endpoint, not sent yet.'),
  rwOldest: f('edgefleet_remote_write_oldest_queued_timestamp_seconds', 'gauge', 'When the oldest request still queued for the endpoint was queued, unix seconds.', 'seconds'),
  rwSent: f('edgefleet_remote_write_sent_samples_total', 'counter', 'Samples the endpoint accepted (2xx).'),
  rwDropped: f('edgefleet_remote_write_dropped_samples_total', 'counter', 'Samples given up for the endpoint: rejected with a 4xx, or dropped from a full queue (prometheus.queueMaxSamples).'),
  rwFailed: f('edgefleet_remote_write_failed_requests_total', 'counter', 'Requests to the endpoint that failed (network, timeout, 5xx, 429: retried; other 4xx: dropped).'),
  rwLastSuccess: f('edgefleet_remote_write_last_success_timestamp_seconds', 'gauge', 'When the endpoint last accepted a request, unix seconds.', 'seconds'),
} as const;

/** One series of a node as the last render met it: its family, own labels and bytes up to the value. */
interface SeriesEntry {
  fam: Family;
  suffix: string;
  labels: readonly string[];
  bytes: Buffer;
}

/**
 * A node's labels, and its series in the order the last render emitted them. A round changes
 * the values and timestamps, seldom a series: the next render walks the same sequence, and
 * where family, suffix and labels are the ones kept, reuses the text instead of escaping and
 * concatenating the labels again. A cache, never the truth: every entry is checked before use.
 */
interface CachedNode extends NodeLabels {
  series: SeriesEntry[];
  /** The index of the next sample in `series`, during a render. */
  next: number;
}

/** Per database, the nodes of its last render (only those: removed nodes leave it). */
const seriesCaches = new WeakMap<SqlDb, Map<string, CachedNode>>();

const sameLabels = (a: readonly string[], b: readonly string[]) => {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** The last body of each format per database, and the change stamp it was rendered at. */
const rendered = new WeakMap<SqlDb, Map<boolean, { stamp: string; body: Buffer }>>();
/** One render at a time per database: a render walks (and rewrites) the kept series of its nodes. */
const renders = new WeakMap<SqlDb, Mutex>();

/** What renderMetrics reads: a Store of either kind, its SQL port, or a SQLite Db (tests, benches). */
export type MetricsSource = Store | SqlOrDb;

/**
 * GET /metrics: every node's newest samples with node_exporter's names, then edgefleet's own
 * series, as the UTF-8 body. On either store. The body is a function of the database alone, so
 * while nothing was written since the last scrape (changeStamp), the same bytes are served
 * again: a second Prometheus (an HA pair), or a scrape interval shorter than the round's, costs
 * a query or two, not a render.
 */
export async function renderMetrics(source: MetricsSource, o: { openMetrics: boolean }): Promise<{ contentType: string; body: Buffer }> {
  const contentType = o.openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
  const sql = 'kind' in source && 'sql' in source ? source.sql : asSql(source as SqlOrDb);
  let mutex = renders.get(sql);
  if (!mutex) renders.set(sql, (mutex = new Mutex()));
  const release = await mutex.lock();
  try {
    let byFormat = rendered.get(sql);
    if (!byFormat) rendered.set(sql, (byFormat = new Map()));
    // Read before rendering: a write that lands meanwhile changes the stamp, so the next scrape renders again.
    const stamp = await changeStamp(sql);
    const hit = byFormat.get(o.openMetrics);
    if (hit?.stamp === stamp) return { contentType, body: hit.body };
    const body = await renderFresh(sql, o.openMetrics);
    byFormat.set(o.openMetrics, { stamp, body });
    return { contentType, body };
  } finally {
    release();
  }
}

/** Table by table (a seek per node each); each series' text kept from the last render where it is the same. */
async function renderFresh(sql: SqlDb, openMetrics: boolean): Promise<Buffer> {
  const w = new ExpositionWriter(openMetrics);
  for (const fam of NODE_FAMILY_LIST) w.declare(fam);
  for (const fam of Object.values(FLEET_FAMILIES)) w.declare(fam);
  const sink: SampleSink = {
    add(fam, node, labels, value, ts, suffix = '') {
      // Only labelsOf's nodes reach this sink.
      const n = node as CachedNode;
      const i = n.next++;
      let s = n.series[i];
      if (s === undefined || s.fam !== fam || s.suffix !== suffix || !sameLabels(s.labels, labels)) {
        const text = seriesText(fam, labels.length === 0 ? n.rendered : n.rendered + ',' + renderLabels(labels), suffix);
        // nodeSamples makes a new array per series or shares a frozen one; neither changes after.
        n.series[i] = s = { fam, suffix, labels, bytes: Buffer.from(text) };
      }
      w.sample(fam, s.bytes, value, ts);
    },
  };
  const previous = seriesCaches.get(sql);
  const nodes = new Map<string, CachedNode>();
  const labelsOf = (instance: string, groups: readonly string[] = []) => {
    let l = nodes.get(instance);
    if (!l) {
      const pairs = nodeLabelPairs(instance, groups);
      const kept = previous?.get(instance);
      // The groups label is in every series' text: other groups, none of it is kept.
      l = kept && kept.pairs[3] === pairs[3] ? kept : { pairs, rendered: renderLabels(pairs), series: [], next: 0 };
      l.next = 0;
      nodes.set(instance, l);
    }
    return l;
  };
  const byId = new Map<number, CachedNode>();
  /** Per node, the time of each of UNAME_KINDS it has. */
  const seen = new Map<number, (number | undefined)[]>();
  await readSnapshots(sql, {
    nodes(list) {
      for (const n of list) {
        const l = labelsOf(n.instance, n.groups);
        byId.set(n.id, l);
        statusSamples(sink, n, l);
      }
    },
    part(n, part) {
      const l = byId.get(n.id)!;
      runSamples(sink, part, l);
      readingSamples(sink, part, l);
      UNAME_KINDS.forEach((k, i) => {
        const t = part[k]?.timeMs;
        if (t !== undefined) {
          let times = seen.get(n.id);
          if (!times) seen.set(n.id, (times = []));
          times[i] = t;
        }
      });
    },
  });
  for (const [id, l] of byId) {
    const t = seen.get(id)?.find((x) => x !== undefined);
    if (t !== undefined) unameSample(sink, l.pairs[1]!, l, t);
  }

  const leMs = INFERENCE_LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);
  for (const h of await inferenceLatencyHistograms(sql, leMs)) {
    const node = labelsOf(h.instance);
    const own = ['model', h.model, 'tag', h.tag];
    INFERENCE_LATENCY_BUCKETS_SECONDS.forEach((le, i) => sink.add(FLEET_FAMILIES.inferenceLatency, node, [...own, 'le', String(le)], h.counts[i]!, undefined, '_bucket'));
    sink.add(FLEET_FAMILIES.inferenceLatency, node, [...own, 'le', '+Inf'], h.count, undefined, '_bucket');
    sink.add(FLEET_FAMILIES.inferenceLatency, node, own, h.sumMs / 1000, undefined, '_sum');
    sink.add(FLEET_FAMILIES.inferenceLatency, node, own, h.count, undefined, '_count');
  }
  for (const a of await openAnomalyCounts(sql)) sink.add(FLEET_FAMILIES.anomaliesOpen, labelsOf(a.instance), ['series', a.series, 'detector', a.detector, 'kind', a.kind], a.count, undefined);
  for (const d of await latestDeploymentStates(sql)) {
    const node = labelsOf(d.instance);
    // A state set, as kube-state-metrics writes one: every state, 1 for the current.
    for (const s of NODE_DEPLOY_STATES) sink.add(FLEET_FAMILIES.deploymentState, node, ['model', d.model, 'tag', d.tag, 'state', s], s === d.state ? 1 : 0, undefined);
  }
  for (const e of await remoteWriteStatesOf(sql)) {
    const l = renderLabels(['endpoint', e.endpoint]);
    w.add(FLEET_FAMILIES.rwQueueSamples, l, e.queuedSamples);
    w.add(FLEET_FAMILIES.rwQueueRequests, l, e.queuedRequests);
    if (e.oldestQueuedUnixMs !== null) w.add(FLEET_FAMILIES.rwOldest, l, e.oldestQueuedUnixMs / 1000);
    w.add(FLEET_FAMILIES.rwSent, l, e.sentSamples);
    w.add(FLEET_FAMILIES.rwDropped, l, e.droppedSamples);
    w.add(FLEET_FAMILIES.rwFailed, l, e.failedRequests);
    if (e.lastSuccessUnixMs !== null) w.add(FLEET_FAMILIES.rwLastSuccess, l, e.lastSuccessUnixMs / 1000);
  }
  // Series a node no longer has (a removed interface) leave the cache with it.
  for (const n of nodes.values()) n.series.length = n.next;
  seriesCaches.set(sql, nodes);
  return w.render();
}
