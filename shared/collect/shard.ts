/**
 * `collect.shard: "k/n"`: several hubs (or Lambda schedules) share one inventory, each
 * collecting the nodes whose name hashes to its shard. Stable by name (FNV-1a of the name, mod
 * n): a node stays in its shard whatever else the inventory holds, and every node is in exactly
 * one shard. Every hub still syncs the whole inventory into the nodes table.
 */
import type { NodeSpec } from '../domain/index.js';

/** 32-bit FNV-1a of the name's UTF-8 bytes. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** The shard (1-based) of `name` among `n`. */
export const shardOf = (name: string, n: number): number => (nameHash(name) % n) + 1;

/** `k/n` → { k, n }; empty → undefined (checked by the config schema). */
export function parseShard(s: string): { k: number; n: number } | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  return m ? { k: Number(m[1]), n: Number(m[2]) } : undefined;
}

/** The nodes of shard `k/n` (all of them when `shard` is empty). */
export function shardNodes<T extends Pick<NodeSpec, 'name'>>(nodes: readonly T[], shard: string): T[] {
  const s = parseShard(shard);
  return s ? nodes.filter((x) => shardOf(x.name, s.n) === s.k) : [...nodes];
}
