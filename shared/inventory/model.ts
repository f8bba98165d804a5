import { ParseFailure } from './errors.js';
import { pyInt } from './ranges.js';

// The parts of ansible/inventory/data.py, group.py and host.py that shape `--list`.

export interface GroupRec {
  name: string;
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Record<string, unknown>;
  priority: number;
}

export interface HostRec {
  name: string;
  vars: Record<string, unknown>;
}

function describe(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? "<class 'int'>" : "<class 'float'>";
  if (typeof v === 'boolean') return "<class 'bool'>";
  if (v === null || v === undefined) return "<class 'NoneType'>";
  if (Array.isArray(v)) return "<class 'list'>";
  return `<class '${typeof v}'>`;
}

export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return String(v);
}

export class InventoryData {
  readonly groups = new Map<string, GroupRec>();
  readonly hosts = new Map<string, HostRec>();

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: unknown): string {
    if (!name) throw new ParseFailure(`Invalid empty/false group name provided: ${pyStr(name)}`);
    if (typeof name !== 'string') {
      throw new ParseFailure(`Invalid group name supplied, expected a string but got ${describe(name)} for ${pyStr(name)}`);
    }
    if (!this.groups.has(name)) {
      this.groups.set(name, { name, hosts: [], children: [], parents: [], vars: {}, priority: 1 });
    }
    return name;
  }

  addHost(name: unknown, group?: string, port?: number | null): string {
    if (!name) throw new ParseFailure(`Invalid empty host name provided: ${pyStr(name)}`);
    if (typeof name !== 'string') {
      throw new ParseFailure(`Invalid host name supplied, expected a string but got ${describe(name)} for ${pyStr(name)}`);
    }
    let g: GroupRec | undefined;
    if (group) {
      g = this.groups.get(group);
      if (!g) throw new ParseFailure(`Could not find group ${group} in inventory`);
    }
    if (!this.hosts.has(name)) {
      // The port is fixed when the host is first seen; a later host:port does not change it.
      const vars: Record<string, unknown> = {};
      if (port) vars['ansible_port'] = port;
      this.hosts.set(name, { name, vars });
    }
    if (g && !g.hosts.includes(name)) g.hosts.push(name);
    return name;
  }

  setVariable(entity: string, key: string, value: unknown): void {
    const g = this.groups.get(entity);
    if (g) {
      // ansible_group_priority is not a variable: it sets the group's sort priority.
      if (key === 'ansible_group_priority') {
        g.priority = typeof value === 'number' ? Math.trunc(value) : typeof value === 'boolean' ? Number(value) : pyInt(String(value));
      } else g.vars[key] = value;
      return;
    }
    const h = this.hosts.get(entity);
    if (!h) throw new ParseFailure(`Could not identify group or host named ${entity}`);
    h.vars[key] = value;
  }

  ancestors(name: string): Set<string> {
    const seen = new Set<string>();
    const todo = [...(this.groups.get(name)?.parents ?? [])];
    while (todo.length) {
      const p = todo.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      todo.push(...(this.groups.get(p)?.parents ?? []));
    }
    return seen;
  }

  /** add_child: a group gets a child group or, failing that, a host of that name. */
  addChild(group: string, child: string): void {
    const g = this.groups.get(group);
    if (!g) throw new ParseFailure(`${group} is not a known group`);
    const c = this.groups.get(child);
    if (c) {
      if (g === c) throw new ParseFailure("can't add group to itself");
      if (g.children.includes(child)) return;
      if (this.ancestors(group).has(child)) {
        throw new ParseFailure(`Adding group '${child}' as child to '${group}' creates a recursive dependency loop.`);
      }
      g.children.push(child);
      if (!c.parents.includes(group)) c.parents.push(group);
    } else if (this.hosts.has(child)) {
      if (!g.hosts.includes(child)) g.hosts.push(child);
    } else {
      throw new ParseFailure(`${child} is not a known host nor group`);
    }
  }

  /** Groups containing the host directly or through children (Host.get_groups()). */
  hostGroups(host: string): Set<string> {
    const out = new Set<string>();
    for (const g of this.groups.values()) {
      if (g.hosts.includes(host)) {
        out.add(g.name);
        for (const a of this.ancestors(g.name)) out.add(a);
      }
    }
    return out;
  }

  /** reconcile_inventory: parentless groups go under all; ungrouped keeps only hosts in no other group. */
  reconcile(): void {
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && this.ancestors(g.name).size === 0) this.addChild('all', g.name);
    }
    const ungrouped = this.groups.get('ungrouped')!;
    for (const h of this.hosts.values()) {
      const mine = this.hostGroups(h.name);
      if (mine.has('ungrouped')) {
        if ([...mine].some((n) => n !== 'all' && n !== 'ungrouped')) {
          ungrouped.hosts = ungrouped.hosts.filter((n) => n !== h.name);
        }
      } else if (mine.size === 0 || (mine.size === 1 && mine.has('all'))) {
        ungrouped.hosts.push(h.name);
      }
    }
  }

  /** Group depth as Ansible keeps it: the longest parent chain down from all. */
  depth(name: string, memo = new Map<string, number>()): number {
    const known = memo.get(name);
    if (known !== undefined) return known;
    let d = 0;
    for (const p of this.groups.get(name)?.parents ?? []) d = Math.max(d, this.depth(p, memo) + 1);
    memo.set(name, d);
    return d;
  }
}
