import { redactSecrets, type GeoPrecision, type LocationSource, type NodeSpec, type NodeStatus, type SsmAgentInfo } from '../domain/index.js';
import type { Db } from './db.js';

/** A row of the `nodes` table. */
export interface NodeRow {
  /** Stable id, what the metric tables store (`node_id`). */
  id: number;
  name: string;
  host: string;
  port: number | null;
  user: string | null;
  connection: string;
  groups: string[];
  vars: Record<string, unknown>;
  status: NodeStatus;
  addedUnixSeconds: number;
  updatedUnixSeconds: number;
  removedUnixSeconds: number | null;
  lastSeenUnixSeconds: number | null;
  lastError: string | null;
  lastErrorUnixSeconds: number | null;
  latitude: number | null;
  longitude: number | null;
  /** The inventory's `address` (normalized), NULL without one. */
  address: string | null;
  /** Where latitude/longitude came from; NULL for a node with no address and no coordinates. */
  locationSource: LocationSource | null;
  /** How precise a geocoded location is. */
  locationPrecision: GeoPrecision | null;
  /** Why the last lookup failed (or what is wrong with the inventory's location vars). */
  locationError: string | null;
  /** When the location was last set. */
  locationUnixSeconds: number | null;
  /** SSM nodes: the agent as SSM last described it; null for SSH and local nodes, or not asked yet. */
  ssmAgent: SsmAgentInfo | null;
}

export interface SyncSummary {
  added: string[];
  updated: string[];
  removed: string[];
  unchanged: number;
}

/**
 * Keep the nodes table in step with the inventory: add new hosts, update changed ones, mark
 * hosts gone from the inventory removed (their rows and history stay), bring back a host that
 * returns. One transaction.
 */
export function syncNodes(db: Db, specs: readonly NodeSpec[], nowUnixSeconds: number, opts: { keepVars?: readonly string[] } = {}): SyncSummary {
  const summary: SyncSummary = { added: [], updated: [], removed: [], unchanged: 0 };
  const readExisting = () =>
    new Map(
      (db.prepare('SELECT id, name, host, port, user, connection, groups_json, vars_json, removed_unix_seconds FROM nodes').all() as Record<string, unknown>[]).map((r) => [r.name as string, r]),
    );
  const rowOf = (spec: NodeSpec) => ({
    name: spec.name,
    host: spec.host,
    port: spec.problem ? null : spec.port,
    user: spec.user ?? null,
    connection: spec.connection,
    groups: JSON.stringify(spec.groups),
    vars: JSON.stringify(redactVars(spec.vars, opts.keepVars)),
    now: nowUnixSeconds,
  });
  const differs = (old: Record<string, unknown>, row: ReturnType<typeof rowOf>) =>
    old.host !== row.host || old.port !== row.port || old.user !== row.user || old.connection !== row.connection ||
    old.groups_json !== row.groups || old.vars_json !== row.vars || old.removed_unix_seconds !== null;
  // Nothing to change (every round of a steady fleet): no write lock taken, so a lock held by
  // another process cannot stall the round here.
  {
    const before = readExisting();
    const names = new Set(specs.map((s) => s.name));
    const same =
      specs.every((spec) => {
        const old = before.get(spec.name);
        return old !== undefined && !differs(old, rowOf(spec));
      }) && [...before].every(([name, old]) => names.has(name) || old.removed_unix_seconds !== null);
    if (same) return { ...summary, unchanged: specs.length };
  }
  const insert = db.prepare(
    `INSERT INTO nodes (name, host, port, user, connection, groups_json, vars_json, status, added_unix_seconds, updated_unix_seconds)
     VALUES (@name, @host, @port, @user, @connection, @groups, @vars, 'unknown', @now, @now)`,
  );
  const update = db.prepare(
    `UPDATE nodes SET host = @host, port = @port, user = @user, connection = @connection, groups_json = @groups, vars_json = @vars,
       updated_unix_seconds = @now, removed_unix_seconds = NULL,
       status = CASE WHEN status = 'removed' THEN 'unknown' ELSE status END
     WHERE name = @name`,
  );
  const remove = db.prepare(`UPDATE nodes SET status = 'removed', removed_unix_seconds = ?, updated_unix_seconds = ? WHERE name = ?`);
  const clearGroups = db.prepare('DELETE FROM node_groups WHERE node_id = (SELECT id FROM nodes WHERE name = ?)');
  const addGroup = db.prepare('INSERT INTO node_groups (node_id, grp) SELECT id, ? FROM nodes WHERE name = ?');

  db.transaction(() => {
    const existing = readExisting();
    const seen = new Set<string>();
    for (const spec of specs) {
      seen.add(spec.name);
      const row = rowOf(spec);
      const old = existing.get(spec.name);
      if (!old) {
        insert.run(row);
        summary.added.push(spec.name);
      } else if (differs(old, row)) {
        update.run(row);
        summary.updated.push(spec.name);
      } else {
        summary.unchanged++;
        continue;
      }
      clearGroups.run(spec.name);
      for (const g of spec.groups) addGroup.run(g, spec.name);
    }
    for (const [name, old] of existing) {
      if (seen.has(name) || old.removed_unix_seconds !== null) continue;
      remove.run(nowUnixSeconds, nowUnixSeconds, name);
      summary.removed.push(name);
    }
  }).immediate();
  return summary;
}

export interface NodeOutcome {
  name: string;
  status: Exclude<NodeStatus, 'removed' | 'unknown'>;
  /** Set when the node answered (even with data we rejected). */
  seenUnixSeconds?: number;
  error?: string;
  /** SSM nodes: the agent as DescribeInstanceInformation reported it this round. */
  ssmAgent?: SsmAgentInfo;
}

/** Record how each node's collection went. Call inside the round's transaction. */
export function recordOutcomes(db: Db, outcomes: readonly NodeOutcome[], nowUnixSeconds: number): void {
  const stmt = db.prepare(
    `UPDATE nodes SET status = @status,
       last_seen_unix_seconds = COALESCE(@seen, last_seen_unix_seconds),
       last_error = CASE WHEN @error IS NULL THEN last_error ELSE @error END,
       last_error_unix_seconds = CASE WHEN @error IS NULL THEN last_error_unix_seconds ELSE @now END
     WHERE name = @name AND removed_unix_seconds IS NULL`,
  );
  const agent = db.prepare(
    `UPDATE nodes SET ssm_agent_version = @version, ssm_platform_name = @platform, ssm_platform_version = @platformVersion,
       ssm_ping_status = @ping, ssm_last_ping_unix_seconds = @lastPing
     WHERE name = @name AND removed_unix_seconds IS NULL`,
  );
  for (const o of outcomes) {
    stmt.run({ name: o.name, status: o.status, seen: o.seenUnixSeconds ?? null, error: o.error ?? null, now: nowUnixSeconds });
    const a = o.ssmAgent;
    if (a) agent.run({ name: o.name, version: a.agentVersion ?? null, platform: a.platformName ?? null, platformVersion: a.platformVersion ?? null, ping: a.pingStatus ?? null, lastPing: a.lastPingUnixSeconds ?? null });
  }
}

/** The ssm_* columns as one object, or null when SSM never described the node. */
export function ssmAgentOf(r: Record<string, unknown>): SsmAgentInfo | null {
  const a: SsmAgentInfo = {};
  if (typeof r.ssm_agent_version === 'string') a.agentVersion = r.ssm_agent_version;
  if (typeof r.ssm_platform_name === 'string') a.platformName = r.ssm_platform_name;
  if (typeof r.ssm_platform_version === 'string') a.platformVersion = r.ssm_platform_version;
  if (typeof r.ssm_ping_status === 'string') a.pingStatus = r.ssm_ping_status;
  if (typeof r.ssm_last_ping_unix_seconds === 'number') a.lastPingUnixSeconds = r.ssm_last_ping_unix_seconds;
  return Object.keys(a).length ? a : null;
}

export function listNodes(db: Db, opts: { includeRemoved?: boolean } = {}): NodeRow[] {
  const rows = db
    .prepare(`SELECT * FROM nodes ${opts.includeRemoved ? '' : 'WHERE removed_unix_seconds IS NULL'} ORDER BY name`)
    .all() as Record<string, unknown>[];
  return rows.map(nodeRowOf);
}

/** A `nodes` row as the domain sees it (both stores select the same columns). */
export function nodeRowOf(r: Record<string, unknown>): NodeRow {
  return {
    id: r.id as number,
    name: r.name as string,
    host: r.host as string,
    port: r.port as number | null,
    user: r.user as string | null,
    connection: r.connection as string,
    groups: JSON.parse(r.groups_json as string) as string[],
    vars: JSON.parse(r.vars_json as string) as Record<string, unknown>,
    status: r.status as NodeStatus,
    addedUnixSeconds: r.added_unix_seconds as number,
    updatedUnixSeconds: r.updated_unix_seconds as number,
    removedUnixSeconds: r.removed_unix_seconds as number | null,
    lastSeenUnixSeconds: r.last_seen_unix_seconds as number | null,
    lastError: r.last_error as string | null,
    lastErrorUnixSeconds: r.last_error_unix_seconds as number | null,
    latitude: r.latitude as number | null,
    longitude: r.longitude as number | null,
    address: (r.address as string | null | undefined) ?? null,
    locationSource: (r.location_source as LocationSource | null | undefined) ?? null,
    locationPrecision: (r.location_precision as GeoPrecision | null | undefined) ?? null,
    locationError: (r.location_error as string | null | undefined) ?? null,
    locationUnixSeconds: (r.location_unix_seconds as number | null | undefined) ?? null,
    ssmAgent: ssmAgentOf(r),
  };
}

/**
 * Vars whose names or values say secret (shared/domain/secrets.ts, at any depth): stored as
 * `<redacted>`, so Grafana never shows them; `keep` (store.keepVars) names top-level vars kept as they are.
 */
export function redactVars(vars: Record<string, unknown>, keep: readonly string[] = []): Record<string, unknown> {
  return redactSecrets(vars, new Set(keep));
}

/** name → id of every node, removed ones included (their history keeps its id). */
export function nodeIds(db: Db): Map<string, number> {
  return new Map((db.prepare('SELECT name, id FROM nodes').all() as { name: string; id: number }[]).map((r) => [r.name, r.id]));
}
