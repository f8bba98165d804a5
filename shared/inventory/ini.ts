import { ParseFailure, located } from './errors.js';
import { expandHostPattern } from './addresses.js';
import type { InventoryData } from './model.js';
import { parseIniValue } from './pyliteral.js';
import { shlexSplit } from './shlex.js';

// The ini inventory plugin (ansible/plugins/inventory/ini.py), one line at a time.

const W = '[\\p{L}\\p{N}_]';
const SECTION = new RegExp(`^\\[([^:\\]\\s]+)(?::(${W}+))?\\]\\s*(?:#.*)?$`, 'u');
const GROUPNAME = /^([^:\]\s]+)\s*(?:#.*)?$/u;

/** Python's str.splitlines(): these separators all start a new line (and count for line numbers). */
export function pySplitLines(text: string): string[] {
  const lines = text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// Python's str.isspace() set; unlike JavaScript's \s it excludes U+FEFF and includes \x1c-\x1f and \x85.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_SPACE_EDGES = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');

/** Python's str.strip() with no argument. */
export function pyStrip(s: string): string {
  return s.replace(PY_SPACE_EDGES, '');
}

interface Pending {
  line: number;
  state: 'vars' | 'children';
  name: string;
  parents: string[];
}

export function parseIni(text: string, file: string, inv: InventoryData): void {
  let lineno = 0;
  // Errors from deeper helpers carry no location; Ansible adds none either, but we add ours.
  const fail = (message: string, cause?: unknown): never => {
    throw located(file, lineno, message, cause);
  };

  const pending = new Map<string, Pending>();
  let groupname = 'ungrouped';
  let state = 'hosts';

  const addPendingChildren = (group: string): void => {
    const decl = pending.get(group)!;
    for (const parent of decl.parents) {
      inv.addChild(parent, group);
      const p = pending.get(parent);
      if (p && p.state === 'children') addPendingChildren(parent);
    }
    pending.delete(group);
  };

  for (const raw of pySplitLines(text)) {
    lineno++;
    const line = pyStrip(raw);
    if (!line || line[0] === ';' || line[0] === '#') continue;
    try {
      const m = SECTION.exec(line);
      if (m) {
        groupname = m[1]!;
        state = m[2] ?? 'hosts';
        if (!['hosts', 'children', 'vars'].includes(state)) {
          fail(`Section [${groupname}:${state}] has unknown type: ${state}`);
        }
        if (!inv.groups.has(groupname)) {
          // [g:vars] alone does not declare a group; that is checked once the file is read.
          if (state === 'vars' && !pending.has(groupname)) {
            pending.set(groupname, { line: lineno, state: 'vars', name: groupname, parents: [] });
          }
          inv.addGroup(groupname);
        }
        const p = pending.get(groupname);
        if (p && state !== 'vars') {
          if (p.state === 'children') addPendingChildren(groupname);
          else pending.delete(groupname);
        }
        continue;
      } else if (line.startsWith('[') && line.endsWith(']')) {
        fail(
          `Invalid section entry: '${line}'. Please make sure that there are no spaces in the section entry, ` +
            'and that there are no other invalid characters',
        );
      }

      if (state === 'hosts') {
        let tokens: string[];
        try {
          tokens = shlexSplit(line, true);
        } catch (e) {
          return fail(`Error parsing host definition '${line}': ${(e as Error).message}`, e);
        }
        const pattern = tokens[0] ?? '';
        const { hostnames, port } = expandHostPattern(pattern);
        if (pyStrip(pattern).endsWith(':') && port === null) {
          fail(`Invalid host pattern '${pattern}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`);
        }
        if (hostnames.some((h) => pyStrip(h) === '---')) {
          fail(`Invalid host pattern '${pattern}' supplied, '---' is normally a sign this is a YAML file.`);
        }
        const variables: Array<[string, unknown]> = [];
        for (const t of tokens.slice(1)) {
          const eq = t.indexOf('=');
          if (eq < 0) fail(`Expected key=value host variable assignment, got: ${t}`);
          variables.push([t.slice(0, eq), parseIniValue(t.slice(eq + 1))]);
        }
        // A variable repeated on one line keeps its first position and last value, as in a dict.
        const merged = new Map(variables);
        for (const host of hostnames) {
          inv.addHost(host, groupname, port);
          for (const [k, v] of merged) inv.setVariable(host, k, v);
        }
      } else if (state === 'vars') {
        const eq = line.indexOf('=');
        if (eq < 0) fail(`Expected key=value, got: ${line}`);
        // :vars values are literal_eval'd as well, so "30 # comment" is the int 30.
        inv.setVariable(groupname, pyStrip(line.slice(0, eq)), parseIniValue(pyStrip(line.slice(eq + 1))));
      } else {
        const gm = GROUPNAME.exec(line);
        if (!gm) fail(`Expected group name, got: ${line}`);
        const child = gm![1]!;
        if (!inv.groups.has(child)) {
          const p = pending.get(child);
          if (!p) pending.set(child, { line: lineno, state: 'children', name: child, parents: [groupname] });
          else p.parents.push(groupname);
        } else {
          inv.addChild(groupname, child);
        }
      }
    } catch (e) {
      if (e instanceof ParseFailure) fail(e.message, e);
      throw e;
    }
  }

  // Only the first unresolved reference is reported, with the line where it was made.
  for (const decl of pending.values()) {
    if (decl.state === 'vars') {
      throw located(file, decl.line, `Section [${decl.name}:vars] not valid for undefined group: ${decl.name}`);
    }
    throw located(file, decl.line, `Section [${decl.parents[decl.parents.length - 1]}:children] includes undefined group: ${decl.name}`);
  }
}
