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

/**
 * Take a queued deployment to run it: one conditional UPDATE, so of two processes (or two
 * invocations) only one gets it. The lease says who runs it and until when; renewLease extends it.
 */
export function claimDeployment(db: Db, id: string, owner: string, nowMs: number, leaseMs: number): boolean {
  return (
    db.prepare(`UPDATE deployments SET status = 'running', started_unix_seconds = ?, lease_owner = ?, lease_expires_unix_ms = ? WHERE id = ? AND status = 'queued'`).run(sec(nowMs), owner, Math.round(nowMs + leaseMs), id).changes === 1
  );
}

export function setDeploymentDigest(db: Db, id: string, digest: string | null): void {
  db.prepare(`UPDATE deployments SET digest = ? WHERE id = ?`).run(digest, id);
}

/** The heartbeat: extend the lease of the deployment and of its node claims; false when it is no longer ours. */
export function renewLease(db: Db, id: string, owner: string, nowMs: number, leaseMs: number): boolean {
  const until = Math.round(nowMs + leaseMs);
  return db.transaction(() => {
    const mine = db.prepare(`UPDATE deployments SET lease_expires_unix_ms = ? WHERE id = ? AND lease_owner = ? AND status = 'running'`).run(until, id, owner).changes === 1;
    db.prepare(`UPDATE deployment_claims SET lease_expires_unix_ms = ? WHERE deployment_id = ? AND lease_owner = ?`).run(until, id, owner);
    return mine;
  }).immediate();
}

/**
 * One deployment at a time per (node, model): a conditional upsert that takes the claim when
 * it is free, expired (its holder died), or already this deployment's. Returns the holder otherwise.
 */
export function claimNodeModel(db: Db, c: { node: string; repository: string; deploymentId: string; owner: string }, nowMs: number, leaseMs: number): { claimed: true } | { claimed: false; holder: string } {
  const r = db
    .prepare(
      `INSERT INTO deployment_claims (node, repository, deployment_id, lease_owner, lease_expires_unix_ms) VALUES (@node, @repository, @deploymentId, @owner, @until)
       ON CONFLICT (node, repository) DO UPDATE SET deployment_id = excluded.deployment_id, lease_owner = excluded.lease_owner, lease_expires_unix_ms = excluded.lease_expires_unix_ms
       WHERE deployment_claims.lease_expires_unix_ms < @now OR deployment_claims.deployment_id = excluded.deployment_id`,
    )
    .run({ ...c, until: Math.round(nowMs + leaseMs), now: Math.round(nowMs) });
  if (r.changes === 1) return { claimed: true };
  const holder = db.prepare(`SELECT deployment_id AS id FROM deployment_claims WHERE node = ? AND repository = ?`).get(c.node, c.repository) as { id: string } | undefined;
  return holder ? { claimed: false, holder: holder.id } : claimNodeModel(db, c, nowMs, leaseMs);
}

export function releaseNodeModel(db: Db, c: { node: string; repository: string; deploymentId: string }): void {
  db.prepare(`DELETE FROM deployment_claims WHERE node = ? AND repository = ? AND deployment_id = ?`).run(c.node, c.repository, c.deploymentId);
}

/**
 * What a crashed or killed process left `running`: every deployment whose lease expired (or
 * that has none, from before leases) becomes `interrupted`, each unfinished node too, with the
 * step it was at; their claims are freed. Cheap (an indexed lookup): run by every deployment
 * handler before it reads or starts one. Returns the ids.
 */
export function recoverInterruptedDeployments(db: Db, nowMs: number): string[] {
  const stale = db.prepare(`SELECT id FROM deployments WHERE status = 'running' AND (lease_expires_unix_ms IS NULL OR lease_expires_unix_ms < ?)`).all(Math.round(nowMs)) as { id: string }[];
  const done: string[] = [];
  for (const { id } of stale) {
    db.transaction(() => {
      const took = db
        .prepare(`UPDATE deployments SET status = 'interrupted', finished_unix_seconds = ? WHERE id = ? AND status = 'running' AND (lease_expires_unix_ms IS NULL OR lease_expires_unix_ms < ?)`)
        .run(sec(nowMs), id, Math.round(nowMs)).changes;
      if (!took) return;
      const open = db.prepare(`SELECT node, state, progress_percent AS p FROM deployment_nodes WHERE deployment_id = ? AND finished_unix_seconds IS NULL`).all(id) as { node: string; state: NodeDeployState; p: number | null }[];
      for (const n of open) {
        const at = n.state === 'pulling' && n.p !== null ? `pulling (${n.p}%)` : n.state;
        recordNodeStep(db, id, n.node, { state: 'interrupted', error: `interrupted at ${at}: the process running the deployment stopped (its lease expired)`, final: true }, nowMs);
      }
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM deployment_nodes WHERE deployment_id = ?`).get(id) as { n: number }).n;
      db.prepare(`UPDATE deployments SET error = ? WHERE id = ?`).run(`${open.length} of ${total} nodes interrupted`, id);
      db.prepare(`DELETE FROM deployment_claims WHERE deployment_id = ?`).run(id);
      done.push(id);
    }).immediate();
  }
  return done;
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
