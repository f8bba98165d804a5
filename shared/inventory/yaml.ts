import { ParseFailure, located } from './errors.js';
import { expandHostPattern } from './addresses.js';
import { pyStr, type InventoryData } from './model.js';
import { jsonKey, keyLine, loadDataWithOrigin, PyTimestamp, toPlain, type PyMap } from './yamlData.js';

// The yaml inventory plugin (ansible/plugins/inventory/yaml.py).

/** Python's type() text for a loaded value; YAML strings/lists/dicts are Ansible's own classes. */
function pyType(v: unknown, json: boolean): string {
  const yamlClass = (name: string): string => `<class 'ansible.parsing.yaml.objects.${name}'>`;
  if (v instanceof Map) return json ? "<class 'dict'>" : yamlClass('AnsibleMapping');
  if (Array.isArray(v)) return json ? "<class 'list'>" : yamlClass('AnsibleSequence');
  if (typeof v === 'string') return json ? "<class 'str'>" : yamlClass('AnsibleUnicode');
  if (typeof v === 'boolean') return "<class 'bool'>";
  if (typeof v === 'number') return Number.isInteger(v) ? "<class 'int'>" : "<class 'float'>";
  if (v instanceof PyTimestamp) return v.iso.includes('T') ? "<class 'datetime.datetime'>" : "<class 'datetime.date'>";
  return "<class 'NoneType'>";
}

export function parseYaml(text: string, file: string, inv: InventoryData, warn: (msg: string) => void = () => {}): void {
  const { value: data, json } = loadDataWithOrigin(text, file);
  const isEmpty = data === null || data === '' || data === 0 || data === false || (data instanceof Map && data.size === 0) || (Array.isArray(data) && data.length === 0);
  if (isEmpty) throw located(file, undefined, 'Parsed empty YAML file');
  if (!(data instanceof Map)) {
    throw located(file, undefined, `YAML inventory has invalid structure, it should be a dictionary, got: ${pyType(data, json)}`);
  }
  if (data.get('plugin')) throw located(file, undefined, 'Plugin configuration YAML file, not YAML inventory');

  let line: number | undefined;
  const fail = (message: string): never => {
    throw located(file, line, message);
  };

  const parseGroup = (group: unknown, groupData: unknown, parent: PyMap): unknown => {
    line = keyLine(parent, group) ?? line;
    if (!(groupData instanceof Map) && groupData !== null) {
      warn(`Skipping '${pyStr(group)}' as this is not a valid group definition`);
      return group;
    }
    let name: string;
    try {
      name = inv.addGroup(group);
    } catch (e) {
      return fail(`Unable to add group ${pyStr(group)}: ${(e as Error).message}`);
    }
    if (groupData === null) return name;

    for (const section of ['vars', 'children', 'hosts']) {
      if (!groupData.has(section)) continue;
      const v = groupData.get(section);
      // A bare string is accepted as a one-entry mapping.
      if (typeof v === 'string') groupData.set(section, new Map([[v, null]]));
      else if (!(v instanceof Map) && v !== null) {
        line = keyLine(groupData, section) ?? line;
        fail(`Invalid "${section}" entry for "${name}" group, requires a dictionary, found "${pyType(v, json)}" instead.`);
      }
    }

    for (const [key, value] of groupData) {
      line = keyLine(groupData, key) ?? line;
      if (!(value instanceof Map) && value !== null) {
        warn(`Skipping key (${pyStr(key)}) in group (${name}) as it is not a mapping, it is a ${pyType(value, json)}`);
        continue;
      }
      if (value === null) continue;
      if (key === 'vars') {
        for (const [k, v] of value) inv.setVariable(name, jsonKey(k), toPlain(v));
      } else if (key === 'children') {
        for (const [sub, subData] of value) {
          const child = parseGroup(sub, subData, value);
          line = keyLine(value, sub) ?? line;
          inv.addChild(name, String(child));
        }
      } else if (key === 'hosts') {
        for (const [pattern, hostVars] of value) {
          line = keyLine(value, pattern) ?? line;
          if (typeof pattern !== 'string') {
            fail(`Host pattern ${pyStr(pattern)} must be a string. Enclose integers/floats in quotation marks.`);
          }
          const { hostnames, port } = expandHostPattern(pattern as string);
          // A falsy body (null, '', 0, false) means "no vars"; anything else must be a mapping.
          const vars = hostVars || new Map();
          if (!(vars instanceof Map)) fail(`Invalid data from file, expected dictionary and got:\n\n${pyStr(toPlain(vars))}`);
          for (const host of hostnames) {
            inv.addHost(host, name, port);
            for (const [k, v] of vars as PyMap) inv.setVariable(host, jsonKey(k), toPlain(v));
          }
        }
      } else {
        warn(`Skipping unexpected key (${pyStr(key)}) in group (${name}), only "vars", "children" and "hosts" are valid`);
      }
    }
    return name;
  };

  try {
    for (const [group, groupData] of data) parseGroup(group, groupData, data);
  } catch (e) {
    if (e instanceof ParseFailure) fail(e.message);
    throw e;
  }
}
