import type { Db } from './db.js';

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
 * Delete inferences and deployment events past their retention, in short transactions (one
 * node-hour of inferences, 5000 events) with a yield between, as applyRetention does for samples.
 * Events of a deployment still queued or running are kept whatever their age.
 */
export async function applyInferenceRetention(db: Db, days: InferenceRetentionDays, nowUnixSeconds: number): Promise<{ inference: number; deployment_events: number }> {
  const deleted = { inference: 0, deployment_events: 0 };
  if (days.inferenceDays > 0) {
    const cutoff = nowUnixSeconds - days.inferenceDays * 86400;
    const oldest = db.prepare('SELECT MIN(time) AS t FROM inference WHERE node_id = ?');
    const del = db.prepare('DELETE FROM inference WHERE node_id = ? AND time >= ? AND time < ?');
    const nodes = (db.prepare('SELECT DISTINCT node_id AS id FROM inference').all() as { id: number }[]).map((r) => r.id);
    for (const node of nodes) {
      const first = (oldest.get(node) as { t: number | null }).t;
      if (first === null) continue;
      for (let from = first; from < cutoff; from += BATCH_SECONDS) {
        deleted.inference += del.run(node, from, Math.min(cutoff, from + BATCH_SECONDS)).changes;
        await yieldToCollections();
      }
    }
  }
  if (days.deploymentEventsDays > 0) {
    const cutoff = nowUnixSeconds - days.deploymentEventsDays * 86400;
    const del = db.prepare(
      `DELETE FROM deployment_events WHERE id IN (
         SELECT e.id FROM deployment_events e JOIN deployments d ON d.id = e.deployment_id
         WHERE e.time < ? AND d.status NOT IN ('queued', 'running') LIMIT ${BATCH_EVENTS})`,
    );
    for (;;) {
      const n = del.run(cutoff).changes;
      deleted.deployment_events += n;
      if (n < BATCH_EVENTS) break;
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
export function pruneGoneCursors(db: Db, nodeId: number, listedContainerIds: readonly string[], staleBeforeUnixSeconds: number): number {
  return db
    .prepare(`DELETE FROM inference_cursors WHERE node_id = ? AND updated_unix_seconds < ? AND container_id NOT IN (SELECT value FROM json_each(?))`)
    .run(nodeId, staleBeforeUnixSeconds, JSON.stringify(listedContainerIds)).changes;
}
