import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { located } from './errors.js';

// Loads YAML or JSON the way Ansible's DataLoader does: JSON first, then YAML 1.1 typed by
// PyYAML's resolver. The `yaml` package parses (failsafe schema, so every scalar stays text)
// and we type plain scalars ourselves, because its 1.1 schema differs from PyYAML
// (it reads y/n as booleans, for one).

/** A YAML timestamp; Ansible's JSON encoder prints it with Python's isoformat(). */
export class PyTimestamp {
  constructor(readonly iso: string) {}
  toJSON(): string { return this.iso; }
  toString(): string { return this.iso; }
}

/** A `!unsafe` string; ansible-inventory prints it as {"__ansible_unsafe": text}. */
export class PyUnsafe {
  constructor(readonly text: string) {}
}

/** wrap_var(): every string inside becomes unsafe. */
function wrapUnsafe(v: unknown): unknown {
  if (typeof v === 'string') return new PyUnsafe(v);
  if (Array.isArray(v)) return v.map(wrapUnsafe);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, wrapUnsafe(x)]));
  return v;
}

/** Python dict keys compare by value, and True == 1, False == 0: find the key already stored. */
function pyKey(map: Map<unknown, unknown>, key: unknown): unknown {
  if (map.has(key)) return key;
  const num = typeof key === 'boolean' ? Number(key) : key;
  for (const k of map.keys()) {
    const kn = typeof k === 'boolean' ? Number(k) : k;
    if (typeof num === 'number' && kn === num) return k;
    if (k instanceof PyTimestamp && key instanceof PyTimestamp && k.iso === key.iso) return k;
  }
  return key;
}

/** Mappings are Maps so that non-string keys (1234, true, null) keep their type, as in Python. */
export type PyMap = Map<unknown, unknown>;

const keyLines = new WeakMap<PyMap, Map<unknown, number>>();

/** Line (1-based) of a mapping key in the source, when the mapping came from YAML. */
export function keyLine(map: PyMap, key: unknown): number | undefined {
  return keyLines.get(map)?.get(key);
}

const BOOL_RE = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT_RE =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL_RE = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP_RE =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
const TIMESTAMP_PARTS =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/;

/** PyYAML's implicit resolver, in its order for the scalar's first character. */
export function resolvePlain(v: string): string {
  const c = v[0] ?? '';
  if ('yYnNtTfFoO'.includes(c) && c && BOOL_RE.test(v)) return 'bool';
  if ('-+0123456789.'.includes(c) && c && FLOAT_RE.test(v)) return 'float';
  if ('-+0123456789'.includes(c) && c && INT_RE.test(v)) return 'int';
  if ((c === '~' || c === 'n' || c === 'N' || c === '') && NULL_RE.test(v)) return 'null';
  if ('0123456789'.includes(c) && c && TIMESTAMP_RE.test(v)) return 'timestamp';
  return 'str';
}

function sexagesimal(parts: number[]): number {
  return parts.reduce((acc, d) => acc * 60 + d, 0);
}

export function constructInt(text: string): number {
  let v = text.replace(/_/g, '');
  const sign = v[0] === '-' ? -1 : 1;
  if (v[0] === '+' || v[0] === '-') v = v.slice(1);
  if (v === '0') return 0;
  if (v.startsWith('0b')) return sign * parseInt(v.slice(2), 2);
  if (v.startsWith('0x')) return sign * parseInt(v.slice(2), 16);
  if (v[0] === '0') return sign * parseInt(v, 8);
  if (v.includes(':')) return sign * sexagesimal(v.split(':').map((p) => parseInt(p, 10)));
  return sign * parseInt(v, 10);
}

export function constructFloat(text: string): number {
  let v = text.replace(/_/g, '').toLowerCase();
  const sign = v[0] === '-' ? -1 : 1;
  if (v[0] === '+' || v[0] === '-') v = v.slice(1);
  if (v === '.inf') return sign * Infinity;
  if (v === '.nan') return NaN;
  if (v.includes(':')) return sign * sexagesimal(v.split(':').map((p) => Number(p)));
  return sign * Number(v);
}

const pad = (n: number | string, w = 2): string => String(n).padStart(w, '0');

export function constructTimestamp(text: string): PyTimestamp | string {
  const m = TIMESTAMP_PARTS.exec(text);
  if (!m) return text;
  const date = `${pad(m[1]!, 4)}-${pad(m[2]!)}-${pad(m[3]!)}`;
  if (m[4] === undefined) return new PyTimestamp(date);
  let iso = `${date}T${pad(m[4])}:${m[5]}:${m[6]}`;
  const fraction = (m[7] ?? '').slice(0, 6).padEnd(6, '0');
  if (m[7] && Number(fraction) !== 0) iso += `.${fraction}`;
  if (m[9]) iso += `${m[9]}${pad(m[10]!)}:${pad(m[11] ?? '0')}`;
  else if (m[8] === 'Z') iso += '+00:00';
  return new PyTimestamp(iso);
}

const TAG = 'tag:yaml.org,2002:';

function constructScalar(value: string, tag: string | undefined, plain: boolean): unknown {
  let kind: string;
  if (tag === undefined) kind = plain ? resolvePlain(value) : 'str';
  else if (tag.startsWith(TAG)) kind = tag.slice(TAG.length);
  else kind = 'str'; // '!', '!unsafe', '!vault' and unknown local tags keep the text
  switch (kind) {
    case 'bool':
      return /^(?:yes|true|on)$/i.test(value);
    case 'int':
      return constructInt(value);
    case 'float':
      return constructFloat(value);
    case 'null':
      return null;
    case 'timestamp':
      return constructTimestamp(value);
    default:
      return value;
  }
}

function buildNode(node: unknown, doc: Document, lc: LineCounter, file: string): unknown {
  if (isAlias(node)) return buildNode(node.resolve(doc), doc, lc, file);
  const tag = (node as { tag?: string } | null)?.tag;
  if (tag === '!unsafe') {
    // The node is built without type resolution (a scalar stays text), then wrapped.
    if (isScalar(node)) return new PyUnsafe(String(node.value ?? ''));
    return wrapUnsafe(buildNode(Object.assign(Object.create(Object.getPrototypeOf(node)), node, { tag: undefined }), doc, lc, file));
  }
  if (isScalar(node)) {
    const plain = node.type === 'PLAIN';
    return constructScalar(String(node.value ?? ''), node.tag, plain);
  }
  if (isSeq(node)) return node.items.map((item) => buildNode(item, doc, lc, file));
  if (isMap(node)) {
    const merged: PyMap = new Map();
    const own: PyMap = new Map();
    const lines = new Map<unknown, number>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      const line = keyNode?.range ? lc.linePos(keyNode.range[0]).line : undefined;
      if (isScalar(keyNode) && keyNode.type === 'PLAIN' && keyNode.tag === undefined && keyNode.value === '<<') {
        // YAML 1.1 merge key: the first mapping in a merge list wins, explicit keys win over all.
        const sources = isSeq(pair.value) ? [...pair.value.items].reverse() : [pair.value];
        for (const src of sources) {
          const m = buildNode(src, doc, lc, file);
          if (!(m instanceof Map)) {
            throw located(file, line, 'while constructing a mapping: expected a mapping or list of mappings for merging');
          }
          for (const [k, v] of m) merged.set(pyKey(merged, k), v);
        }
        continue;
      }
      const key = keyNode === null ? null : buildNode(keyNode, doc, lc, file);
      if (Array.isArray(key) || key instanceof Map) throw located(file, line, 'while constructing a mapping: found unhashable key');
      const value = pair.value === null ? null : buildNode(pair.value, doc, lc, file);
      const stored = pyKey(own, key);
      own.set(stored, value);
      if (line !== undefined && !lines.has(stored)) lines.set(stored, line);
    }
    for (const [k, v] of own) merged.set(pyKey(merged, k), v);
    keyLines.set(merged, lines);
    return merged;
  }
  return null;
}

function fromJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, fromJson(x)]));
  return v;
}

/** DataLoader.load(): JSON when the text is JSON, else a single YAML document. */
export function loadData(text: string, file: string): unknown {
  return loadDataWithOrigin(text, file).value;
}

/** Same, also saying whether JSON was used (Ansible's YAML objects have their own class names). */
export function loadDataWithOrigin(text: string, file: string): { value: unknown; json: boolean } {
  try {
    return { value: fromJson(JSON.parse(text)), json: true };
  } catch {
    // not JSON: fall through to YAML, as Ansible does
  }
  return { value: loadYaml(text, file), json: false };
}

function loadYaml(text: string, file: string): unknown {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { schema: 'failsafe', version: '1.1', uniqueKeys: false, lineCounter: lc });
  if (!Array.isArray(docs)) return null; // an empty stream
  const firstError = docs.flatMap((d) => d.errors)[0];
  if (firstError) {
    const pos = firstError.linePos?.[0];
    // The yaml package's first message line already says "at line L, column C:".
    const problem = firstError.message.split('\n')[0]!.replace(/:$/, '');
    throw located(file, pos?.line, `Syntax Error while loading YAML. ${problem}`, firstError);
  }
  if (docs.length === 0) return null;
  if (docs.length > 1) {
    const line = docs[1]!.range ? lc.linePos(docs[1]!.range[0]).line : undefined;
    throw located(file, line, 'Syntax Error while loading YAML. expected a single document in the stream');
  }
  const doc = docs[0]!;
  return buildNode(doc.contents, doc, lc, file);
}

/** How Python's json.dumps turns a dict key into text. */
export function jsonKey(k: unknown): string {
  return k === null || k === undefined ? 'null' : String(k);
}

/** Python value → JSON-like value as ansible-inventory prints it (keys become text). */
export function toPlain(v: unknown): unknown {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) out[jsonKey(k)] = toPlain(x);
    return out;
  }
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof PyTimestamp) return v.iso;
  if (v instanceof PyUnsafe) return { __ansible_unsafe: v.text };
  return v;
}
