/**
 * Inference collection (docs/inference-protocol.md): every edgefleet container's stdout, read
 * through its node's container engine from where the last read stopped, parsed line by line
 * (shared/parse/inference.ts) and stored with the cursor in one transaction; and the push path
 * (POST /inference) for models that can reach the hub.
 *
 * No line stored twice, none lost:
 * - The cursor (per deployment, node and container) is the engine's nanosecond timestamp of the
 *   last line taken and how many lines carried exactly that timestamp. It is written in the same
 *   transaction as the rows, so a hub killed at any point resumes from a cursor that matches the
 *   rows (hub restarts).
 * - The engine is asked for lines since the cursor's whole second (`since` is inclusive and whole
 *   seconds on Podman); the lines before the cursor, and the first `linesAtTime` at its exact
 *   nanosecond, are dropped here.
 * - A container keeps one log across its restarts (restart policy, engine restart) and its
 *   timestamps keep increasing: the same cursor goes on. A new container (a redeploy) has a new
 *   id, hence a new cursor from its first line.
 * - A last line without its newline is left for the next read, the cursor before it.
 * - Belt and braces: every row has a unique key, 64 bits of SHA-1 over (container id, timestamp,
 *   occurrence at that timestamp): a line read twice anyway (a cursor lost with a restored
 *   database) is dropped by the table's unique index.
 */
import type { Config } from '../config/config.js';
import { DEPLOY_LABELS, type InferenceRecord, type Logger, type NodeSpec } from '../domain/index.js';
import { Engine, EngineError, FrameDemuxer, scanTimestampedLines, StdoutBuffer, DEFAULT_ENGINE_SOCKET, type LogTime } from '../engine/index.js';
import { INFERENCE_LINE_MAX_BYTES, parseInferenceLine, parseInferenceObject } from '../parse/inference.js';
import { lineKey, LogLineKeys, type CursorKey, type InferenceCursor, type InferenceWrite, type LogBatchCounts } from '../store/inference.js';
import { pruneGoneCursors } from '../store/inferenceRetention.js';
import { inferenceRows, type InferenceRows } from '../store/inferenceRows.js';
import { asStore, type StoreOrDb } from '../store/sqliteStore.js';
import type { SqlDb } from '../store/sql.js';
import type { TransportPool } from '../transport/pool.js';
import { mapLimit } from './limit.js';
import { shardNodes } from './shard.js';

/**
 * How a container's log is read: requests of at most `seconds` of log each (`since`/`until`),
 * each streamed and committed every `bytes` of stdout (rows and cursor in one transaction), so
 * a backlog of days drains window by window at ingest speed in flat memory, and what was read
 * stays read if the round is cut off. A round stops reading a container after `budgetMs`; the
 * next round goes on from the cursor.
 */
export interface LogWindow {
  seconds: number;
  bytes: number;
  budgetMs: number;
}
/**
 * 4 MiB (about 30,000 lines) per commit: each commit rewrites every page of the line_key index
 * it touched, and random keys touch nearly all of them: over a 1,000,000-line backlog the store
 * took 1.8× the time of reading the lines instead of 2.6× in 1 MiB commits. A round outside a
 * backlog reads far less anyway.
 */
export const LOG_WINDOW: LogWindow = { seconds: 3600, bytes: 4 << 20, budgetMs: 300_000 };

/** Which deployment, model and node a container's lines belong to. */
export interface LogSource extends CursorKey {
  model: string;
  tag: string;
}

export interface LogBatch {
  rows: InferenceWrite[];
  cursor: InferenceCursor;
  counts: LogBatchCounts;
}

/**
 * The lines of one engine answer (`GET /containers/{id}/logs?stdout=1&timestamps=1`) after the
 * cursor → rows and the cursor after them. Pure apart from hashing: the bench and the collector
 * run exactly this.
 */
export function readLogBatch(engineAnswer: Buffer, cursor: InferenceCursor, src: LogSource): LogBatch {
  const parts = new FrameDemuxer(1, { timestamps: true }).push(engineAnswer);
  return readLogLines(parts.length === 1 ? parts[0]! : Buffer.concat(parts), cursor, src);
}

/**
 * What an engine answer repeats of what was already taken: lines before the cursor, and the
 * first `left` lines at its exact time. One answer read in several pieces shares one of these,
 * since only its start repeats.
 */
export interface CursorSkip {
  ns: bigint;
  left: number;
}
export const skipFor = (c: InferenceCursor): CursorSkip => ({ ns: c.logTimeUnixNs, left: c.linesAtTime });

/**
 * The same for stdout already demultiplexed: its complete lines after the cursor (a last partial
 * line is left). `skip`: of the answer this piece continues (default: an answer of its own).
 */
export function readLogLines(stdout: Buffer, cursor: InferenceCursor, src: LogSource, skip: CursorSkip = skipFor(cursor)): LogBatch {
  const rows: InferenceWrite[] = [];
  const counts: LogBatchCounts = { linesRead: 0, inferences: 0, ignored: 0, invalid: 0 };
  let ns = cursor.logTimeUnixNs;
  let atTime = cursor.linesAtTime;
  const keys = new LogLineKeys(src.containerId);
  // The timestamp's part of the line key, made once per timestamp, not per line.
  let keyTime: LogTime | undefined;
  let keyTimeText = '';
  scanTimestampedLines(stdout, (time, textStart, textEnd) => {
    const t = time.unixNs;
    if (t < skip.ns) return;
    if (t === skip.ns && skip.left > 0) {
      skip.left--;
      return;
    }
    if (t === ns) atTime++;
    else {
      ns = t;
      atTime = 1;
    }
    counts.linesRead++;
    const bytes = textEnd - textStart;
    // A line over the limit is not even decoded.
    const parsed = parseInferenceLine(bytes > INFERENCE_LINE_MAX_BYTES ? '' : stdout.toString('utf8', textStart, textEnd), bytes);
    if (parsed.kind === 'ignored') {
      counts.ignored++;
      return;
    }
    if (parsed.kind === 'invalid') {
      counts.invalid++;
      counts.lastInvalid = parsed.reason;
      return;
    }
    counts.inferences++;
    if (time !== keyTime) {
      keyTime = time;
      keyTimeText = `${t}\0`;
    }
    rows.push(row(src, parsed.record, t, keys.key(keyTimeText, atTime)));
  });
  return { rows, cursor: { logTimeUnixNs: ns, linesAtTime: atTime }, counts };
}

function row(src: LogSource, record: InferenceRecord, logTimeUnixNs: bigint, key: bigint): InferenceWrite {
  return {
    nodeId: src.nodeId,
    deploymentId: src.deploymentId,
    model: src.model,
    tag: src.tag,
    timeUnixMs: record.timeUnixMs ?? Number(logTimeUnixNs / 1000n) / 1000,
    record,
    source: 'log',
    lineKey: key,
  };
}

export interface InferenceCollectDeps {
  /** The store, SQLite or PostgreSQL (or an open SQLite database). */
  db: StoreOrDb;
  config: Config;
  pool: TransportPool;
  log: Logger;
  /** Every inventory host; the ones edgefleet has deployed to are read. */
  inventory: readonly NodeSpec[];
  now?: () => number;
  /** Log windows (tests and the bench use smaller ones). */
  window?: LogWindow;
  /**
   * Only the nodes of these shards (`k/n` each; shard.ts): with many hubs on one PostgreSQL,
   * each drains the containers of the nodes it collects, so no two read one log. Default: all.
   */
  shards?: readonly string[];
}

export interface ContainerCollect {
  node: string;
  containerId: string;
  deploymentId: string;
  model: string;
  tag: string;
  linesRead: number;
  inferences: number;
  ignored: number;
  invalid: number;
  error?: string;
}

export interface InferenceCollectSummary {
  nodes: number;
  containers: number;
  linesRead: number;
  inferences: number;
  ignored: number;
  invalid: number;
  failed: { node: string; containerId?: string; error: string }[];
  perContainer: ContainerCollect[];
  durationMs: number;
}

/** The nodes any deployment has put a container on. */
async function deployedNodes(sql: SqlDb): Promise<Set<string>> {
  return new Set((await sql.all<{ node: string }>('SELECT DISTINCT node FROM deployment_nodes WHERE container_id IS NOT NULL')).map((r) => r.node));
}

/** Node name → id (the metric tables' node_id). */
async function nodeIdsOf(sql: SqlDb): Promise<Map<string, number>> {
  return new Map((await sql.all<{ name: string; id: number }>('SELECT name, id FROM nodes')).map((r) => [r.name, r.id]));
}

function engineOf(deps: InferenceCollectDeps, node: NodeSpec): Engine {
  const socket = node.vars.edgefleet_engine_socket;
  return new Engine(deps.pool.get(node), typeof socket === 'string' && socket ? socket : deps.config.deploy.engineSocket || DEFAULT_ENGINE_SOCKET, deps.config.deploy.engineTimeoutSeconds * 1000);
}

/**
 * One round: every node edgefleet deployed to (at most collect.concurrency at once), every
 * container there carrying edgefleet's deployment label (running or not: a stopped container's
 * last lines are still read), its new stdout lines into the inference table. A node or container
 * that fails is reported and left at its cursor; the others go on.
 */
export async function collectInference(deps: InferenceCollectDeps): Promise<InferenceCollectSummary> {
  const t0 = performance.now();
  const now = deps.now ?? Date.now;
  const s = asStore(deps.db);
  const deployed = await deployedNodes(s.sql);
  const ids = await nodeIdsOf(s.sql);
  const mine = deps.shards ? new Set(deps.shards.flatMap((sh) => shardNodes(deps.inventory, sh)).map((n) => n.name)) : undefined;
  const nodes = deps.inventory.filter((n) => deployed.has(n.name) && ids.has(n.name) && (!mine || mine.has(n.name)));
  const store = inferenceRows(s);
  const sum: InferenceCollectSummary = { nodes: nodes.length, containers: 0, linesRead: 0, inferences: 0, ignored: 0, invalid: 0, failed: [], perContainer: [], durationMs: 0 };

  await mapLimit(nodes, deps.config.collect.concurrency, async (node) => {
    const nodeId = ids.get(node.name)!;
    const engine = engineOf(deps, node);
    let containers;
    try {
      containers = await engine.listContainers({ [DEPLOY_LABELS.deployment]: undefined });
    } catch (e) {
      sum.failed.push({ node: node.name, error: (e as Error).message });
      deps.log.warn('inference: cannot list containers', { node: node.name, error: (e as Error).message });
      return;
    }
    // Cursors of containers this engine no longer has, idle for retention.inferenceCursorDays, go.
    const keepDays = deps.config.retention.inferenceCursorDays;
    if (keepDays > 0) await pruneGoneCursors(s.sql, nodeId, containers.map((c) => c.id), Math.floor(now() / 1000) - keepDays * 86400);
    for (const c of containers) {
      const deploymentId = c.labels[DEPLOY_LABELS.deployment];
      const model = c.labels[DEPLOY_LABELS.model];
      if (!deploymentId || !model) continue;
      const src: LogSource = { deploymentId, nodeId, containerId: c.id, model, tag: c.labels[DEPLOY_LABELS.tag] ?? '' };
      const per: ContainerCollect = { node: node.name, containerId: c.id, deploymentId, model: src.model, tag: src.tag, linesRead: 0, inferences: 0, ignored: 0, invalid: 0 };
      sum.containers++;
      try {
        const got = await drainLog(engine, store, src, c.createdUnixSeconds, Math.floor(now() / 1000), deps.window ?? LOG_WINDOW, now);
        per.linesRead = got.linesRead;
        per.inferences = got.inferences;
        per.ignored = got.ignored;
        per.invalid = got.invalid;
      } catch (e) {
        per.error = e instanceof EngineError ? e.message : (e as Error).message;
        sum.failed.push({ node: node.name, containerId: c.id, error: per.error });
        deps.log.warn('inference: cannot read a container log', { node: node.name, container: c.id.slice(0, 12), error: per.error });
      }
      sum.linesRead += per.linesRead;
      sum.inferences += per.inferences;
      sum.ignored += per.ignored;
      sum.invalid += per.invalid;
      sum.perContainer.push(per);
    }
  });
  sum.durationMs = Math.round(performance.now() - t0);
  return sum;
}

/**
 * Read one container's log from its cursor to `untilUnixSeconds` (the round's start) in time
 * windows; each window streamed, its complete lines committed every `w.bytes` with the cursor.
 */
async function drainLog(engine: Engine, store: InferenceRows, src: LogSource, createdUnixSeconds: number, untilUnixSeconds: number, w: LogWindow, now: () => number): Promise<LogBatchCounts & { inferences: number }> {
  const got = { linesRead: 0, inferences: 0, ignored: 0, invalid: 0 };
  const giveUp = performance.now() + w.budgetMs;
  let cursor = await store.cursor(src);
  // Nothing is older than the container: a new cursor starts at its creation, not at 1970.
  let since = Math.max(Number(cursor.logTimeUnixNs / 1_000_000_000n), createdUnixSeconds - 1);
  // One buffer for every window, grown up to w.bytes and the chunk past it as the log needs.
  const pending = new StdoutBuffer(Math.min(w.bytes, 256 << 10));
  for (;;) {
    const last = since + w.seconds >= untilUnixSeconds;
    const stream = engine.logStream(src.containerId, { sinceUnixSeconds: since, ...(last ? {} : { untilUnixSeconds: since + w.seconds }) });
    const demux = new FrameDemuxer(1, { timestamps: true });
    const skip = skipFor(cursor);
    pending.clear(); // a window's partial last line is not continued by the next window's answer
    const commit = async () => {
      // Only complete lines; a partial last one waits for the next chunk (or the next round).
      const whole = pending.completeLines();
      if (whole.length === 0) return;
      const batch = readLogLines(whole, cursor, src, skip);
      pending.take(whole.length);
      if (batch.counts.linesRead === 0) return;
      got.inferences += await store.commitLogBatch(src, batch.cursor, batch.rows, batch.counts, Math.floor(now() / 1000));
      cursor = batch.cursor;
      got.linesRead += batch.counts.linesRead;
      got.ignored += batch.counts.ignored;
      got.invalid += batch.counts.invalid;
    };
    let cut = false;
    for await (const chunk of stream) {
      demux.feed(chunk, pending.append);
      if (pending.length >= w.bytes) {
        await commit();
        if (performance.now() > giveUp) {
          cut = true;
          break; // destroys the request
        }
      }
    }
    await commit();
    if (cut || last || performance.now() > giveUp) return got;
    since += w.seconds;
  }
}

/** A push the caller got wrong (400), with the reason. */
export class InferencePushError extends Error {
  override name = 'InferencePushError';
}

/** Most inferences one POST /inference may carry. */
export const PUSH_MAX_INFERENCES = 5_000;

export interface PushSummary {
  received: number;
  stored: number;
  /** Already stored by an earlier push of the same records (a retry). */
  duplicates: number;
}

/**
 * POST /inference: `{ "node": "jetson-01", "deployment": "a1b2c3d4e5f6" | "model": "lab/iris", "tag": "v1",
 * "inferences": [ {protocol object with ts}, … ] }`. All or nothing: one bad record refuses the
 * batch with its index and reason. Each record must carry `ts` (a batch is sent later than its
 * inferences ran), and its key is a hash of node, deployment or model:tag and the record as sent,
 * so a retried batch is stored once.
 */
export async function pushInference(db: StoreOrDb, body: unknown, nowMs: number): Promise<PushSummary> {
  const s = asStore(db);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InferencePushError('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.node !== 'string' || !b.node) throw new InferencePushError('node: the inventory name of the node the inferences ran on');
  const nodeId = (await nodeIdsOf(s.sql)).get(b.node);
  if (nodeId === undefined) throw new InferencePushError(`node: no node "${b.node}" (edgefleet nodes lists them)`);
  let deploymentId: string | null = null;
  let model: string;
  let tag: string;
  if (b.deployment !== undefined) {
    if (typeof b.deployment !== 'string' || !/^[0-9a-f]{12}$/.test(b.deployment)) throw new InferencePushError('deployment: 12 hex digits');
    const d = await s.sql.get<{ repository: string; tag: string }>('SELECT d.repository, d.tag FROM deployments d JOIN deployment_nodes n ON n.deployment_id = d.id WHERE d.id = ? AND n.node = ?', [b.deployment, b.node]);
    if (!d) throw new InferencePushError(`deployment: no deployment ${b.deployment} on node ${b.node}`);
    deploymentId = b.deployment;
    model = d.repository;
    tag = d.tag;
  } else {
    if (typeof b.model !== 'string' || !/^[a-z0-9][a-z0-9._/-]{0,254}$/.test(b.model)) throw new InferencePushError('model: a repository name (lab/iris), or give deployment');
    if (typeof b.tag !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(b.tag)) throw new InferencePushError('tag: the image tag (v1)');
    model = b.model;
    tag = b.tag;
  }
  if (!Array.isArray(b.inferences) || b.inferences.length === 0) throw new InferencePushError('inferences: a non-empty array of protocol objects');
  if (b.inferences.length > PUSH_MAX_INFERENCES) throw new InferencePushError(`inferences: at most ${PUSH_MAX_INFERENCES} per request`);
  const rows: InferenceWrite[] = [];
  const scope = deploymentId ?? `${model}:${tag}`;
  b.inferences.forEach((raw, i) => {
    const p = parseInferenceObject(raw);
    if ('error' in p) throw new InferencePushError(`inferences[${i}]: ${p.error}`);
    if (p.record.timeUnixMs === undefined) throw new InferencePushError(`inferences[${i}]: ts is required when pushing`);
    if (p.record.timeUnixMs > nowMs + 300_000) throw new InferencePushError(`inferences[${i}]: ts is more than 5 minutes in the future`);
    rows.push({ nodeId, deploymentId, model, tag, timeUnixMs: p.record.timeUnixMs, record: p.record, source: 'push', lineKey: lineKey('push', b.node as string, scope, JSON.stringify(raw)) });
  });
  const stored = await inferenceRows(s).insert(rows);
  return { received: rows.length, stored, duplicates: rows.length - stored };
}
