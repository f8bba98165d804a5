import type { Inventory } from './build.js';

/** What `ansible-inventory --list` prints (InventoryCLI.json_inventory), as a plain object. */
export function toAnsibleList(inv: Inventory): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();

  const formatGroup = (name: string): void => {
    const g = inv.groups.get(name);
    if (!g) return;
    const entry: { hosts?: string[]; children?: string[] } = {};
    out[name] = entry;
    // Ansible never lists the hosts of 'all'; empty lists are dropped, then empty groups.
    if (name !== 'all' && g.hosts.length) entry.hosts = [...g.hosts];
    if (g.children.length) entry.children = [...g.children];
    for (const child of g.children) {
      if (!seen.has(child)) {
        formatGroup(child);
        seen.add(child);
      }
    }
    if (!entry.hosts && !entry.children) delete out[name];
  };
  formatGroup('all');

  const hostvars: Record<string, unknown> = {};
  for (const h of inv.hosts.values()) {
    if (Object.keys(h.vars).length) hostvars[h.name] = structuredClone(h.vars);
  }
  out['_meta'] = { hostvars };
  return out;
}
