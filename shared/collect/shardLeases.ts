/**
 * `collect.shard: "auto/n"`: hubs share n shards by leases in the store (`shard:k/n`). Each
 * round a hub renews its presence (`hub:ID`) and the shards it holds, takes free or expired
 * ones up to its fair share (n over the hubs present, rounded up) and lets go of any beyond it, so hubs that
 * join get shards and a hub that dies (it stops renewing) has its shards taken over once its
 * leases expire. A lease is taken by one conditional upsert: two hubs never hold one shard.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store } from '../store/store.js';

/** This process, as a lease owner. */
export const HUB_ID = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

export async function leaseShards(store: Store, n: number, ttlMs: number, owner = HUB_ID): Promise<string[]> {
  // Presence first: the hubs alive are those whose `hub:` lease is live, holding shards or not.
  await store.tryLease(`hub:${owner}`, owner, ttlMs);
  const now = Date.now();
  const names = Array.from({ length: n }, (_, i) => `shard:${i + 1}/${n}`);
  const live = (await store.leases('shard:')).filter((l) => l.expiresUnixMs >= now && names.includes(l.name));
  const hubs = (await store.leases('hub:')).filter((l) => l.expiresUnixMs >= now).length;
  const share = Math.ceil(n / Math.max(1, hubs));
  const kept: string[] = [];
  for (const l of live.filter((x) => x.owner === owner)) {
    if (kept.length < share && (await store.tryLease(l.name, owner, ttlMs))) kept.push(l.name);
    else await store.releaseLease(l.name, owner);
  }
  const heldByOthers = new Set(live.filter((l) => l.owner !== owner).map((l) => l.name));
  for (const name of names) {
    if (kept.length >= share) break;
    if (kept.includes(name) || heldByOthers.has(name)) continue;
    if (await store.tryLease(name, owner, ttlMs)) kept.push(name);
  }
  return kept.map((x) => x.slice('shard:'.length)).sort();
}

/**
 * The shards this hub holds now, without taking or renewing any (the collection round does
 * that): for work that follows the round's split, as the inference drain does.
 */
export async function heldShards(store: Store, owner = HUB_ID): Promise<string[]> {
  const now = Date.now();
  return (await store.leases('shard:')).filter((l) => l.owner === owner && l.expiresUnixMs >= now).map((l) => l.name.slice('shard:'.length)).sort();
}

/** At shutdown: let go of this hub's leases, so the others take its shards at once. */
export async function releaseShards(store: Store, owner = HUB_ID): Promise<void> {
  for (const l of await store.leases()) if (l.owner === owner && (l.name.startsWith('shard:') || l.name.startsWith('hub:'))) await store.releaseLease(l.name, owner);
}
