import type { InventoryData } from './model.js';
import type { VarsLookup } from './varsFiles.js';

// Turns the parsed model into the public Inventory, flattening vars the way
// `ansible-inventory --list` does (VariableManager.get_vars with the default precedence).

export interface InventoryGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
}

export interface InventoryHost {
  name: string;
  vars: Record<string, unknown>;
  groups: string[];
}

export interface Inventory {
  file: string;
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
}

/** Vars that ansible-inventory strips from its output (cli/inventory.py INTERNAL_VARS). */
export const INTERNAL_VARS = new Set([
  'ansible_diff_mode', 'ansible_config_file', 'ansible_facts', 'ansible_forks', 'ansible_inventory_sources',
  'ansible_limit', 'ansible_playbook_python', 'ansible_run_tags', 'ansible_skip_tags', 'ansible_verbosity',
  'ansible_version', 'inventory_dir', 'inventory_file', 'inventory_hostname', 'inventory_hostname_short',
  'groups', 'group_names', 'omit', 'playbook_dir',
]);

const noFiles: VarsLookup = () => ({});

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function buildInventory(data: InventoryData, file: string, files: VarsLookup = noFiles): Inventory {
  const depthMemo = new Map<string, number>();
  const groups = new Map<string, InventoryGroup>();
  for (const g of data.groups.values()) {
    const vars: Record<string, unknown> = { ...g.vars, ...files('group_vars', g.name) };
    if (g.priority !== 1) vars['ansible_group_priority'] = g.priority;
    groups.set(g.name, { name: g.name, hosts: [...g.hosts], children: [...g.children], vars });
  }

  const hosts = new Map<string, InventoryHost>();
  for (const h of data.hosts.values()) {
    const member = data.hostGroups(h.name);
    // sort_groups: by depth, then ansible_group_priority, then name; 'all' comes first on its own.
    const sorted = [...member]
      .filter((n) => n !== 'all')
      .map((n) => data.groups.get(n)!)
      .sort((a, b) => data.depth(a.name, depthMemo) - data.depth(b.name, depthMemo) || a.priority - b.priority || byCodePoint(a.name, b.name));
    const all = data.groups.get('all')!;
    // Inventory-file group vars, then group_vars/ files (all first), then host vars, then host_vars/.
    let vars: Record<string, unknown> = { ...all.vars };
    for (const g of sorted) vars = { ...vars, ...g.vars };
    vars = { ...vars, ...files('group_vars', 'all') };
    for (const g of sorted) vars = { ...vars, ...files('group_vars', g.name) };
    vars = { ...vars, ...h.vars, ...files('host_vars', h.name) };
    for (const k of INTERNAL_VARS) delete vars[k];
    hosts.set(h.name, { name: h.name, vars, groups: [...member].filter((n) => n !== 'all').sort(byCodePoint) });
  }
  return { file, hosts, groups };
}
