import { dropPartitionsBefore } from './pgPartitions.js';
import type { PgStore } from './pgStore.js';
import { placeholders, type SqlDb } from './sql.js';
import { asStore, type StoreOrDb } from './sqliteStore.js';

/** How long inferences, deployment events and the read positions of vanished containers are kept. */
export interface InferenceRetentionDays {
  /** Inferences (table inference); 0 keeps them forever. */
  inferenceDays: number;
  /** Events of finished deployments (deployments and deployment_nodes stay); 0: forever. */
  deploymentEventsDays: number;
}

/** One DELETE covers at most this much of one node's inferences, or this many events. */
const BATCH_SECONDS = 3600;
const BATCH_EVENTS = 5000;
const yieldToCollections = () => new Promise((r) => setImmediate(r));

/**
 * Delete inferences and deployment events past their retention, as applyRetention does for
 * samples. Inferences: on SQLite in short transactions (one node-hour) with a yield between; on
 * PostgreSQL whole daily partitions, a day once it lies wholly before the cutoff (so up to a day
 * more is kept). Events in batches of 5000 on both; those of a deployment still queued or running
 * are kept whatever their age.
 */
export async function applyInferenceRetention(store: StoreOrDb, days: InferenceRetentionDays, nowUnixSeconds: number): Promise<{ inference: number; deployment_events: number }> {
  const s = asStore(store);
  const deleted = { inference: 0, deployment_events: 0 };
  if (days.inferenceDays > 0) {
    const cutoff = nowUnixSeconds - days.inferenceDays * 86400;
    if (s.kind === 'postgres') deleted.inference = await dropPartitionsBefore((s as PgStore).pg, 'inference', cutoff);
    else deleted.inference = await deleteInferencesBefore(s.sql, cutoff);
  }
  if (days.deploymentEventsDays > 0) {
    const cutoff = nowUnixSeconds - days.deploymentEventsDays * 86400;
    const del = `DELETE FROM deployment_events WHERE id IN (
         SELECT e.id FROM deployment_events e JOIN deployments d ON d.id = e.deployment_id
         WHERE e.time < ? AND d.status NOT IN ('queued', 'running') LIMIT ${BATCH_EVENTS})`;
    for (;;) {
      const n = (await s.sql.run(del, [cutoff])).changes;
      deleted.deployment_events += n;
      if (n < BATCH_EVENTS) break;
      await yieldToCollections();
    }
  }
  return deleted;
}

/** SQLite: row deletes, one node-hour a statement (each its own transaction), oldest first. */
async function deleteInferencesBefore(sql: SqlDb, cutoff: number): Promise<number> {
  let deleted = 0;
  const nodes = await sql.all<{ id: number }>('SELECT DISTINCT node_id AS id FROM inference');
  for (const { id } of nodes) {
    const first = (await sql.get<{ t: number | null }>('SELECT MIN(time) AS t FROM inference WHERE node_id = ?', [id]))?.t ?? null;
    if (first === null) continue;
    for (let from = first; from < cutoff; from += BATCH_SECONDS) {
      deleted += (await sql.run('DELETE FROM inference WHERE node_id = ? AND time >= ? AND time < ?', [id, from, Math.min(cutoff, from + BATCH_SECONDS)])).changes;
      await yieldToCollections();
    }
  }
  return deleted;
}

/**
 * The read positions of one node's containers that its engine no longer lists and that have not
 * moved for `staleDays`: the container is gone (removed by a redeploy), its cursor is dead
 * weight. A listed container keeps its cursor however idle, or its whole log would be read again.
 */
export async function pruneGoneCursors(store: StoreOrDb | SqlDb, nodeId: number, listedContainerIds: readonly string[], staleBeforeUnixSeconds: number): Promise<number> {
  const sql = 'dialect' in store ? store : asStore(store).sql;
  const listed = listedContainerIds.length ? ` AND container_id NOT IN (${placeholders(listedContainerIds.length)})` : '';
  return (await sql.run(`DELETE FROM inference_cursors WHERE node_id = ? AND updated_unix_seconds < ?${listed}`, [nodeId, staleBeforeUnixSeconds, ...listedContainerIds])).changes;
}
