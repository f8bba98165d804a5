import type { DeployOptions, DeploymentAction, DeploymentStatus, NodeDeployState } from '../domain/index.js';
import type { Db } from './db.js';

/** A deployment as stored (tables deployments, deployment_nodes, deployment_events; docs/schema.md). */
export interface DeploymentRow {
  id: string;
  action: DeploymentAction;
  registry: string;
  repository: string;
  tag: string;
  /** What the engines pull: `registry.lab:5000/lab/yolo:v8`. */
  image: string;
  /** The tag's manifest digest as the registry answered when the deployment started; null when unknown. */
  digest: string | null;
  target: { nodes?: string[]; group?: string };
  options: DeployOptions;
  status: DeploymentStatus;
  createdUnixSeconds: number;
  startedUnixSeconds: number | null;
  finishedUnixSeconds: number | null;
  error: string | null;
}

export interface DeploymentNodeRow {
  node: string;
  state: NodeDeployState;
  progressPercent: number | null;
  containerId: string | null;
  containerName: string | null;
  previousContainerId: string | null;
  /** stop-first or start-first (deploy), once chosen. */
  updateOrder: string | null;
  error: string | null;
  queuedUnixSeconds: number;
  startedUnixSeconds: number | null;
  updatedUnixSeconds: number;
  finishedUnixSeconds: number | null;
}

export interface DeploymentEventRow {
  node: string;
  timeUnixMs: number;
  state: NodeDeployState;
  progressPercent: number | null;
  message: string | null;
}

/** What a new deployment records: the row's identity and request; status and times start from `nowMs`. */
export interface NewDeployment extends Pick<DeploymentRow, 'id' | 'action' | 'registry' | 'repository' | 'tag' | 'image' | 'target' | 'options'> {
  /** The resolved node names: each gets a `queued` row and event. */
  nodes: string[];
  nowMs: number;
}

const sec = (ms: number) => Math.floor(ms / 1000);

/** Record a deployment, every node `queued`, in one transaction. */
export function insertDeployment(db: Db, d: NewDeployment): void {
  db.transaction(() => {
    db.prepare(
      `INSERT INTO deployments (id, action, registry, repository, tag, image, target_json, options_json, status, created_unix_seconds)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
    ).run(d.id, d.action, d.registry, d.repository, d.tag, d.image, JSON.stringify(d.target), JSON.stringify(d.options), sec(d.nowMs));
    const node = db.prepare(`INSERT INTO deployment_nodes (deployment_id, node, state, queued_unix_seconds, updated_unix_seconds) VALUES (?, ?, 'queued', ?, ?)`);
    for (const n of d.nodes) {
      node.run(d.id, n, sec(d.nowMs), sec(d.nowMs));
      insertEvent(db, d.id, n, 'queued', null, null, d.nowMs);
    }
  }).immediate();
}

export function markDeploymentStarted(db: Db, id: string, digest: string | null, nowMs: number): void {
  db.prepare(`UPDATE deployments SET status = 'running', digest = ?, started_unix_seconds = ? WHERE id = ?`).run(digest, sec(nowMs), id);
}

export function finishDeployment(db: Db, id: string, status: DeploymentStatus, error: string | null, nowMs: number): void {
  db.prepare(`UPDATE deployments SET status = ?, error = ?, finished_unix_seconds = ? WHERE id = ?`).run(status, error, sec(nowMs), id);
}

export interface NodeUpdate {
  state: NodeDeployState;
  progressPercent?: number | null;
  message?: string | null;
  error?: string | null;
  containerId?: string | null;
  containerName?: string | null;
  previousContainerId?: string | null;
  updateOrder?: string | null;
  final?: boolean;
}

/** One step of one node: its row updated and an event appended, together. */
export function recordNodeStep(db: Db, id: string, node: string, u: NodeUpdate, nowMs: number): void {
  db.transaction(() => {
    const sets = ['state = @state', 'updated_unix_seconds = @now', 'started_unix_seconds = COALESCE(started_unix_seconds, @now)'];
    if (u.progressPercent !== undefined) sets.push('progress_percent = @progress');
    if (u.error !== undefined) sets.push('error = @error');
    if (u.containerId !== undefined) sets.push('container_id = @containerId');
    if (u.containerName !== undefined) sets.push('container_name = @containerName');
    if (u.previousContainerId !== undefined) sets.push('previous_container_id = @previous');
    if (u.updateOrder !== undefined) sets.push('update_order = @updateOrder');
    if (u.final) sets.push('finished_unix_seconds = @now');
    db.prepare(`UPDATE deployment_nodes SET ${sets.join(', ')} WHERE deployment_id = @id AND node = @node`).run({
      id,
      node,
      state: u.state,
      now: sec(nowMs),
      progress: u.progressPercent ?? null,
      error: u.error ?? null,
      containerId: u.containerId ?? null,
      containerName: u.containerName ?? null,
      previous: u.previousContainerId ?? null,
      updateOrder: u.updateOrder ?? null,
    });
    insertEvent(db, id, node, u.state, u.progressPercent ?? null, u.message ?? u.error ?? null, nowMs);
  }).immediate();
}

function insertEvent(db: Db, id: string, node: string, state: NodeDeployState, progress: number | null, message: string | null, nowMs: number): void {
  db.prepare(`INSERT INTO deployment_events (deployment_id, node, time, time_unix_ms, state, progress_percent, message) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
    id,
    node,
    sec(nowMs),
    Math.round(nowMs),
    state,
    progress,
    message,
  );
}

interface DeploymentDbRow {
  id: string;
  action: string;
  registry: string;
  repository: string;
  tag: string;
  image: string;
  digest: string | null;
  target_json: string;
  options_json: string;
  status: string;
  created_unix_seconds: number;
  started_unix_seconds: number | null;
  finished_unix_seconds: number | null;
  error: string | null;
}

const toDeployment = (r: DeploymentDbRow): DeploymentRow => ({
  id: r.id,
  action: r.action as DeploymentAction,
  registry: r.registry,
  repository: r.repository,
  tag: r.tag,
  image: r.image,
  digest: r.digest,
  target: JSON.parse(r.target_json) as DeploymentRow['target'],
  options: JSON.parse(r.options_json) as DeployOptions,
  status: r.status as DeploymentStatus,
  createdUnixSeconds: r.created_unix_seconds,
  startedUnixSeconds: r.started_unix_seconds,
  finishedUnixSeconds: r.finished_unix_seconds,
  error: r.error,
});

export function getDeployment(db: Db, id: string): DeploymentRow | undefined {
  const r = db.prepare(`SELECT * FROM deployments WHERE id = ?`).get(id) as DeploymentDbRow | undefined;
  return r ? toDeployment(r) : undefined;
}

export function deploymentNodes(db: Db, id: string): DeploymentNodeRow[] {
  const rows = db.prepare(`SELECT * FROM deployment_nodes WHERE deployment_id = ? ORDER BY node`).all(id) as Record<string, unknown>[];
  return rows.map((r) => ({
    node: r.node as string,
    state: r.state as NodeDeployState,
    progressPercent: r.progress_percent as number | null,
    containerId: r.container_id as string | null,
    containerName: r.container_name as string | null,
    previousContainerId: r.previous_container_id as string | null,
    updateOrder: (r.update_order as string | null) ?? null,
    error: r.error as string | null,
    queuedUnixSeconds: r.queued_unix_seconds as number,
    startedUnixSeconds: r.started_unix_seconds as number | null,
    updatedUnixSeconds: r.updated_unix_seconds as number,
    finishedUnixSeconds: r.finished_unix_seconds as number | null,
  }));
}

/** Every step of every node, in the order they happened. */
export function deploymentEvents(db: Db, id: string): DeploymentEventRow[] {
  const rows = db.prepare(`SELECT node, time_unix_ms, state, progress_percent, message FROM deployment_events WHERE deployment_id = ? ORDER BY id`).all(id) as Record<string, unknown>[];
  return rows.map((r) => ({
    node: r.node as string,
    timeUnixMs: r.time_unix_ms as number,
    state: r.state as NodeDeployState,
    progressPercent: r.progress_percent as number | null,
    message: r.message as string | null,
  }));
}

/** Newest first. */
export function listDeployments(db: Db, o: { limit?: number; repository?: string } = {}): DeploymentRow[] {
  const where = o.repository !== undefined ? 'WHERE repository = @repository' : '';
  const rows = db.prepare(`SELECT * FROM deployments ${where} ORDER BY created_unix_seconds DESC, rowid DESC LIMIT @limit`).all({ repository: o.repository, limit: o.limit ?? 50 }) as DeploymentDbRow[];
  return rows.map(toDeployment);
}
