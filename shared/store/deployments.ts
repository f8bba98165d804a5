/**
 * Deployments (tables deployments, deployment_nodes, deployment_events, deployment_claims) on the
 * SQL port (sql.ts): the same statements on SQLite and PostgreSQL, so many hubs (or Lambda
 * invocations) share the claims and leases. Each function is its own short transaction; the
 * engine calls happen between them, never inside one.
 */
import type { DeployOptions, DeploymentAction, DeploymentStatus, NodeDeployState } from '../domain/index.js';
import type { SqlDb } from './sql.js';
import { asSql, type SqlOrDb } from './sqliteSql.js';

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
export async function insertDeployment(db: SqlOrDb, d: NewDeployment): Promise<void> {
  await asSql(db).tx(async (sql) => {
    await sql.run(
      `INSERT INTO deployments (id, action, registry, repository, tag, image, target_json, options_json, status, created_unix_seconds)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
      [d.id, d.action, d.registry, d.repository, d.tag, d.image, JSON.stringify(d.target), JSON.stringify(d.options), sec(d.nowMs)],
    );
    for (const n of d.nodes) {
      await sql.run(`INSERT INTO deployment_nodes (deployment_id, node, state, queued_unix_seconds, updated_unix_seconds) VALUES (?, ?, 'queued', ?, ?)`, [d.id, n, sec(d.nowMs), sec(d.nowMs)]);
      await insertEvent(sql, d.id, n, 'queued', null, null, d.nowMs);
    }
  });
}

export async function markDeploymentStarted(db: SqlOrDb, id: string, digest: string | null, nowMs: number): Promise<void> {
  await asSql(db).run(`UPDATE deployments SET status = 'running', digest = ?, started_unix_seconds = ? WHERE id = ?`, [digest, sec(nowMs), id]);
}

/**
 * Take a queued deployment to run it: one conditional UPDATE, so of two processes (or two
 * invocations, or two hubs) only one gets it. The lease says who runs it and until when; renewLease extends it.
 */
export async function claimDeployment(db: SqlOrDb, id: string, owner: string, nowMs: number, leaseMs: number): Promise<boolean> {
  const r = await asSql(db).run(
    `UPDATE deployments SET status = 'running', started_unix_seconds = ?, lease_owner = ?, lease_expires_unix_ms = ? WHERE id = ? AND status = 'queued'`,
    [sec(nowMs), owner, Math.round(nowMs + leaseMs), id],
  );
  return r.changes === 1;
}

export async function setDeploymentDigest(db: SqlOrDb, id: string, digest: string | null): Promise<void> {
  await asSql(db).run(`UPDATE deployments SET digest = ? WHERE id = ?`, [digest, id]);
}

/** The heartbeat: extend the lease of the deployment and of its node claims; false when it is no longer ours. */
export async function renewLease(db: SqlOrDb, id: string, owner: string, nowMs: number, leaseMs: number): Promise<boolean> {
  const until = Math.round(nowMs + leaseMs);
  return asSql(db).tx(async (sql) => {
    const mine = (await sql.run(`UPDATE deployments SET lease_expires_unix_ms = ? WHERE id = ? AND lease_owner = ? AND status = 'running'`, [until, id, owner])).changes === 1;
    await sql.run(`UPDATE deployment_claims SET lease_expires_unix_ms = ? WHERE deployment_id = ? AND lease_owner = ?`, [until, id, owner]);
    return mine;
  });
}

/**
 * One deployment at a time per (node, model): a conditional upsert that takes the claim when
 * it is free, expired (its holder died), or already this deployment's. Returns the holder otherwise.
 */
export async function claimNodeModel(
  db: SqlOrDb,
  c: { node: string; repository: string; deploymentId: string; owner: string },
  nowMs: number,
  leaseMs: number,
): Promise<{ claimed: true } | { claimed: false; holder: string }> {
  const sql = asSql(db);
  const r = await sql.run(
    `INSERT INTO deployment_claims (node, repository, deployment_id, lease_owner, lease_expires_unix_ms) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (node, repository) DO UPDATE SET deployment_id = excluded.deployment_id, lease_owner = excluded.lease_owner, lease_expires_unix_ms = excluded.lease_expires_unix_ms
     WHERE deployment_claims.lease_expires_unix_ms < ? OR deployment_claims.deployment_id = excluded.deployment_id`,
    [c.node, c.repository, c.deploymentId, c.owner, Math.round(nowMs + leaseMs), Math.round(nowMs)],
  );
  if (r.changes === 1) return { claimed: true };
  const holder = await sql.get<{ id: string }>(`SELECT deployment_id AS id FROM deployment_claims WHERE node = ? AND repository = ?`, [c.node, c.repository]);
  // Released between the two statements: try again.
  return holder ? { claimed: false, holder: holder.id } : claimNodeModel(sql, c, nowMs, leaseMs);
}

export async function releaseNodeModel(db: SqlOrDb, c: { node: string; repository: string; deploymentId: string }): Promise<void> {
  await asSql(db).run(`DELETE FROM deployment_claims WHERE node = ? AND repository = ? AND deployment_id = ?`, [c.node, c.repository, c.deploymentId]);
}

/**
 * What a crashed or killed process left `running`: every deployment whose lease expired (or
 * that has none, from before leases) becomes `interrupted`, each unfinished node too, with the
 * step it was at; their claims are freed. Cheap (an indexed lookup): run by every deployment
 * handler before it reads or starts one. Each one in a transaction that takes it only if it is
 * still expired, so two hubs recovering at once mark it once. Returns the ids.
 */
export async function recoverInterruptedDeployments(db: SqlOrDb, nowMs: number): Promise<string[]> {
  const sql = asSql(db);
  const now = Math.round(nowMs);
  const stale = await sql.all<{ id: string }>(`SELECT id FROM deployments WHERE status = 'running' AND (lease_expires_unix_ms IS NULL OR lease_expires_unix_ms < ?)`, [now]);
  const done: string[] = [];
  for (const { id } of stale) {
    const took = await sql.tx(async (t) => {
      const taken = await t.run(
        `UPDATE deployments SET status = 'interrupted', finished_unix_seconds = ? WHERE id = ? AND status = 'running' AND (lease_expires_unix_ms IS NULL OR lease_expires_unix_ms < ?)`,
        [sec(nowMs), id, now],
      );
      if (!taken.changes) return false;
      const open = await t.all<{ node: string; state: NodeDeployState; p: number | null }>(
        `SELECT node, state, progress_percent AS p FROM deployment_nodes WHERE deployment_id = ? AND finished_unix_seconds IS NULL ORDER BY node`,
        [id],
      );
      for (const n of open) {
        const at = n.state === 'pulling' && n.p !== null ? `pulling (${n.p}%)` : n.state;
        await recordNodeStep(t, id, n.node, { state: 'interrupted', error: `interrupted at ${at}: the process running the deployment stopped (its lease expired)`, final: true }, nowMs);
      }
      const total = (await t.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deployment_nodes WHERE deployment_id = ?`, [id]))!.n;
      await t.run(`UPDATE deployments SET error = ? WHERE id = ?`, [`${open.length} of ${total} nodes interrupted`, id]);
      await t.run(`DELETE FROM deployment_claims WHERE deployment_id = ?`, [id]);
      return true;
    });
    if (took) done.push(id);
  }
  return done;
}

export async function finishDeployment(db: SqlOrDb, id: string, status: DeploymentStatus, error: string | null, nowMs: number): Promise<void> {
  await asSql(db).run(`UPDATE deployments SET status = ?, error = ?, finished_unix_seconds = ? WHERE id = ?`, [status, error, sec(nowMs), id]);
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
export async function recordNodeStep(db: SqlOrDb, id: string, node: string, u: NodeUpdate, nowMs: number): Promise<void> {
  const now = sec(nowMs);
  const sets = ['state = ?', 'updated_unix_seconds = ?', 'started_unix_seconds = COALESCE(started_unix_seconds, ?)'];
  const params: (string | number | null)[] = [u.state, now, now];
  const set = (column: string, v: string | number | null | undefined) => {
    if (v === undefined) return;
    sets.push(`${column} = ?`);
    params.push(v);
  };
  set('progress_percent', u.progressPercent);
  set('error', u.error);
  set('container_id', u.containerId);
  set('container_name', u.containerName);
  set('previous_container_id', u.previousContainerId);
  set('update_order', u.updateOrder);
  if (u.final) set('finished_unix_seconds', now);
  await asSql(db).tx(async (sql) => {
    await sql.run(`UPDATE deployment_nodes SET ${sets.join(', ')} WHERE deployment_id = ? AND node = ?`, [...params, id, node]);
    await insertEvent(sql, id, node, u.state, u.progressPercent ?? null, u.message ?? u.error ?? null, nowMs);
  });
}

async function insertEvent(sql: SqlDb, id: string, node: string, state: NodeDeployState, progress: number | null, message: string | null, nowMs: number): Promise<void> {
  await sql.run(`INSERT INTO deployment_events (deployment_id, node, time, time_unix_ms, state, progress_percent, message) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
    id, node, sec(nowMs), Math.round(nowMs), state, progress, message,
  ]);
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

export async function getDeployment(db: SqlOrDb, id: string): Promise<DeploymentRow | undefined> {
  const r = await asSql(db).get<DeploymentDbRow>(`SELECT * FROM deployments WHERE id = ?`, [id]);
  return r ? toDeployment(r) : undefined;
}

export async function deploymentNodes(db: SqlOrDb, id: string): Promise<DeploymentNodeRow[]> {
  const rows = await asSql(db).all<Record<string, unknown>>(`SELECT * FROM deployment_nodes WHERE deployment_id = ? ORDER BY node`, [id]);
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
export async function deploymentEvents(db: SqlOrDb, id: string): Promise<DeploymentEventRow[]> {
  const rows = await asSql(db).all<Record<string, unknown>>(`SELECT node, time_unix_ms, state, progress_percent, message FROM deployment_events WHERE deployment_id = ? ORDER BY id`, [id]);
  return rows.map((r) => ({
    node: r.node as string,
    timeUnixMs: r.time_unix_ms as number,
    state: r.state as NodeDeployState,
    progressPercent: r.progress_percent as number | null,
    message: r.message as string | null,
  }));
}

/**
 * Newest first. Deployments created in the same second are told apart by their first event (ids
 * ever higher on both databases; SQLite's rowid has no PostgreSQL twin).
 */
export async function listDeployments(db: SqlOrDb, o: { limit?: number; repository?: string } = {}): Promise<DeploymentRow[]> {
  const where = o.repository !== undefined ? 'WHERE d.repository = ?' : '';
  const rows = await asSql(db).all<DeploymentDbRow>(
    `SELECT d.* FROM deployments d ${where}
     ORDER BY d.created_unix_seconds DESC, COALESCE((SELECT MIN(e.id) FROM deployment_events e WHERE e.deployment_id = d.id), 0) DESC, d.id DESC
     LIMIT ?`,
    [...(o.repository !== undefined ? [o.repository] : []), o.limit ?? 50],
  );
  return rows.map(toDeployment);
}
