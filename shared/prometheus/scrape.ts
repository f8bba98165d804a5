import { NODE_DEPLOY_STATES } from '../domain/index.js';
import type { Db } from '../store/db.js';
import { remoteWriteStates } from '../store/remoteWrite.js';
import { changeStamp, inferenceLatencyHistograms, latestDeploymentStates, nodeSnapshots, openAnomalyCounts } from '../store/snapshots.js';
import { ExpositionWriter, OPENMETRICS_CONTENT_TYPE, renderLabels, TEXT_CONTENT_TYPE, type Family } from './exposition.js';
import { NODE_FAMILY_LIST, nodeLabelPairs, nodeSamples, type NodeLabels, type SampleSink } from './nodeMetrics.js';

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

/** Renderings of the frozen label sets nodeMetrics shares between nodes (bounded: one per core number and mode). */
const frozenRendered = new Map<readonly string[], string>();

/** Extra families a caller adds (the remote-write queue), after the fleet's. */
export type ExtraSamples = (w: ExpositionWriter) => void;

/** The last body of each format per database, and the change stamp it was rendered at. */
const rendered = new WeakMap<Db, Map<boolean, { stamp: string; body: string }>>();

/**
 * GET /metrics: every node's newest samples with node_exporter's names, then edgefleet's own
 * series. The body is a function of the database alone, so while nothing was written since the
 * last scrape (changeStamp), the same bytes are served again: a second Prometheus (an HA pair),
 * or a scrape interval shorter than the round's, costs two queries, not a render.
 */
export function renderMetrics(db: Db, o: { openMetrics: boolean; extra?: ExtraSamples }): { contentType: string; body: string } {
  const contentType = o.openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
  if (o.extra) return { contentType, body: renderFresh(db, o) };
  let byFormat = rendered.get(db);
  if (!byFormat) rendered.set(db, (byFormat = new Map()));
  // Read before rendering: a write that lands meanwhile changes the stamp, so the next scrape renders again.
  const stamp = changeStamp(db);
  const hit = byFormat.get(o.openMetrics);
  if (hit?.stamp === stamp) return { contentType, body: hit.body };
  const body = renderFresh(db, o);
  byFormat.set(o.openMetrics, { stamp, body });
  return { contentType, body };
}

/** One query per table (each a seek per node), labels rendered once per node. */
function renderFresh(db: Db, o: { openMetrics: boolean; extra?: ExtraSamples }): string {
  const w = new ExpositionWriter(o.openMetrics);
  for (const fam of NODE_FAMILY_LIST) w.declare(fam);
  for (const fam of Object.values(FLEET_FAMILIES)) w.declare(fam);
  let last: readonly string[] | undefined;
  let lastRendered = '';
  const sink: SampleSink = {
    add(fam, node, labels, value, ts, suffix) {
      if (labels.length === 0) return w.add(fam, node.rendered, value, ts, suffix);
      // The same array again (an interface's eight counters) or a frozen, shared one (a core's modes): rendered once.
      if (labels !== last) {
        last = labels;
        lastRendered = (Object.isFrozen(labels) && frozenRendered.get(labels)) || renderLabels(labels);
        if (Object.isFrozen(labels)) frozenRendered.set(labels, lastRendered);
      }
      w.add(fam, node.rendered + ',' + lastRendered, value, ts, suffix);
    },
  };
  const nodes = new Map<string, NodeLabels>();
  const labelsOf = (instance: string, groups: readonly string[] = []) => {
    let l = nodes.get(instance);
    if (!l) {
      const pairs = nodeLabelPairs(instance, groups);
      nodes.set(instance, (l = { pairs, rendered: renderLabels(pairs) }));
    }
    return l;
  };
  for (const n of nodeSnapshots(db)) nodeSamples(sink, n, labelsOf(n.instance, n.groups));

  const leMs = INFERENCE_LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);
  for (const h of inferenceLatencyHistograms(db, leMs)) {
    const node = labelsOf(h.instance);
    const own = ['model', h.model, 'tag', h.tag];
    INFERENCE_LATENCY_BUCKETS_SECONDS.forEach((le, i) => sink.add(FLEET_FAMILIES.inferenceLatency, node, [...own, 'le', String(le)], h.counts[i]!, undefined, '_bucket'));
    sink.add(FLEET_FAMILIES.inferenceLatency, node, [...own, 'le', '+Inf'], h.count, undefined, '_bucket');
    sink.add(FLEET_FAMILIES.inferenceLatency, node, own, h.sumMs / 1000, undefined, '_sum');
    sink.add(FLEET_FAMILIES.inferenceLatency, node, own, h.count, undefined, '_count');
  }
  for (const a of openAnomalyCounts(db)) sink.add(FLEET_FAMILIES.anomaliesOpen, labelsOf(a.instance), ['series', a.series, 'detector', a.detector, 'kind', a.kind], a.count, undefined);
  for (const d of latestDeploymentStates(db)) {
    const node = labelsOf(d.instance);
    // A state set, as kube-state-metrics writes one: every state, 1 for the current.
    for (const s of NODE_DEPLOY_STATES) sink.add(FLEET_FAMILIES.deploymentState, node, ['model', d.model, 'tag', d.tag, 'state', s], s === d.state ? 1 : 0, undefined);
  }
  for (const e of remoteWriteStates(db)) {
    const l = renderLabels(['endpoint', e.endpoint]);
    w.add(FLEET_FAMILIES.rwQueueSamples, l, e.queuedSamples);
    w.add(FLEET_FAMILIES.rwQueueRequests, l, e.queuedRequests);
    if (e.oldestQueuedUnixMs !== null) w.add(FLEET_FAMILIES.rwOldest, l, e.oldestQueuedUnixMs / 1000);
    w.add(FLEET_FAMILIES.rwSent, l, e.sentSamples);
    w.add(FLEET_FAMILIES.rwDropped, l, e.droppedSamples);
    w.add(FLEET_FAMILIES.rwFailed, l, e.failedRequests);
    if (e.lastSuccessUnixMs !== null) w.add(FLEET_FAMILIES.rwLastSuccess, l, e.lastSuccessUnixMs / 1000);
  }
  o.extra?.(w);
  return w.render();
}
