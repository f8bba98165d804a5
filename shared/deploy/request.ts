import {
  DEPLOYMENT_ACTIONS,
  RESTART_POLICIES,
  type DeployOptions,
  type DeployRequest,
  type DeploymentAction,
  type NodeSpec,
  type PortBinding,
  type RestartPolicy,
  type UpdateOrder,
  type VolumeBinding,
  UPDATE_ORDERS,
} from '../domain/index.js';
import { isRepositoryName, isTag, parseModelReference } from '../parse/registry.js';

/** A request that cannot be run as given (HTTP 400, CLI exit 1); the message says which field. */
export class DeployInputError extends Error {
  override name = 'DeployInputError';
}

/** Inventory host and group names as edgefleet accepts them in a request (no shell, no paths). */
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const REGISTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const MAX_LIST = 256;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(obj: Record<string, unknown>, keys: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw new DeployInputError(`${where}unknown field "${k}" (known: ${keys.join(', ')})`);
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new DeployInputError(`${field}: expected a string`);
  return v;
}

/** `8080:80`, `8080:80/udp`, `127.0.0.1:8080:80`. */
export function parsePort(text: string): PortBinding {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(text);
  const hostPort = Number(m?.[2]);
  const containerPort = Number(m?.[3]);
  if (!m || hostPort < 1 || hostPort > 65535 || containerPort < 1 || containerPort > 65535 || (m[1] !== undefined && !IPV4.test(m[1]))) {
    throw new DeployInputError(`ports: ${JSON.stringify(text)} is not HOST:CONTAINER[/tcp|udp] (optionally IP:HOST:CONTAINER)`);
  }
  return { ...(m[1] !== undefined ? { hostIp: m[1] } : {}), hostPort, containerPort, protocol: (m[4] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

/** `/data/models:/models:ro`, `cache:/cache`: an absolute host path without `..`, or a volume name. */
export function parseVolume(text: string): VolumeBinding {
  const parts = text.split(':');
  const bad = () => new DeployInputError(`volumes: ${JSON.stringify(text)} is not SOURCE:/TARGET[:ro|rw] (SOURCE an absolute path or a volume name)`);
  if (parts.length < 2 || parts.length > 3) throw bad();
  const [source, target, mode] = parts as [string, string, string | undefined];
  const cleanPath = (p: string) => p.startsWith('/') && !p.split('/').includes('..') && !/[\0\n]/.test(p) && p.length <= 4096;
  if (!(cleanPath(source) || VOLUME_NAME.test(source)) || !cleanPath(target) || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) throw bad();
  return { source, target, readOnly: mode === 'ro' };
}

export interface RequestDefaults {
  /** The registry used when the request names none: the only configured one. */
  registries: string[];
}

/**
 * A deployment request from JSON (the HTTP body, a handler's event, the CLI's flags), checked
 * field by field: `{ model: 'lab/yolo', tag: 'v8' }` or `{ image: 'lab/yolo:v8' }`, `nodes`
 * (a list) or `group`, optional `registry`, and `options` (env, ports, volumes, restart,
 * graceSeconds, concurrency). Nothing in it ever reaches a shell: it becomes Engine API JSON.
 */
export function parseDeployRequest(body: unknown, defaults: RequestDefaults, action: DeploymentAction = 'deploy'): DeployRequest {
  if (!isObject(body)) throw new DeployInputError('expected a JSON object');
  only(body, ['action', 'model', 'tag', 'image', 'registry', 'nodes', 'group', 'options'], '');
  if (body.action !== undefined) {
    const a = str(body.action, 'action');
    if (!(DEPLOYMENT_ACTIONS as readonly string[]).includes(a)) throw new DeployInputError(`action: one of ${DEPLOYMENT_ACTIONS.join(', ')}`);
    action = a as DeploymentAction;
  }
  let repository: string;
  let tag: string | undefined;
  if (body.image !== undefined) {
    if (body.model !== undefined || body.tag !== undefined) throw new DeployInputError('give either image or model and tag');
    const image = str(body.image, 'image');
    let ref;
    try {
      ref = parseModelReference(image);
    } catch (e) {
      throw new DeployInputError(`image: ${JSON.stringify(image)} is not a model reference REPOSITORY:TAG (${(e as Error).message})`);
    }
    repository = ref.repository;
    tag = ref.tag;
  } else {
    repository = str(body.model, 'model');
    if (!isRepositoryName(repository)) throw new DeployInputError(`model: ${JSON.stringify(repository)} is not a repository name (lowercase letters, digits, . _ - separators, / between components)`);
    if (body.tag !== undefined) tag = str(body.tag, 'tag');
  }
  if (tag === undefined) {
    if (action === 'deploy' || action === 'pull') throw new DeployInputError('a tag is needed (model:tag)');
    tag = '';
  } else if (!isTag(tag)) throw new DeployInputError(`tag: ${JSON.stringify(tag)} is not a tag (letters, digits, _ . -; at most 128)`);

  let registry: string;
  if (body.registry !== undefined) {
    registry = str(body.registry, 'registry');
    if (!REGISTRY_NAME.test(registry)) throw new DeployInputError('registry: letters, digits, _ . - (at most 64)');
    if (!defaults.registries.includes(registry)) throw new DeployInputError(`registry: no registry named "${registry}" is configured (${defaults.registries.join(', ') || 'none'})`);
  } else if (defaults.registries.length === 1) registry = defaults.registries[0]!;
  else if (defaults.registries.length === 0) throw new DeployInputError('no registry is configured (registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL)');
  else throw new DeployInputError(`registry: several are configured, name one (${defaults.registries.join(', ')})`);

  const target: { nodes?: string[]; group?: string } = {};
  if ((body.nodes === undefined) === (body.group === undefined)) throw new DeployInputError('give either nodes (a list of inventory hosts) or group');
  if (body.nodes !== undefined) {
    const nodes = typeof body.nodes === 'string' ? body.nodes.split(',').map((s) => s.trim()).filter(Boolean) : body.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0 || nodes.length > 10_000) throw new DeployInputError('nodes: expected a non-empty list of inventory host names');
    for (const n of nodes) if (typeof n !== 'string' || !NODE_NAME.test(n)) throw new DeployInputError(`nodes: ${JSON.stringify(n)} is not an inventory host name`);
    target.nodes = [...new Set(nodes as string[])];
  } else {
    const group = str(body.group, 'group');
    if (!NODE_NAME.test(group)) throw new DeployInputError(`group: ${JSON.stringify(group)} is not an inventory group name`);
    target.group = group;
  }
  return { action, registry, repository, tag, ...target, options: parseOptions(body.options) };
}

export function parseOptions(raw: unknown): DeployOptions {
  const o: DeployOptions = { env: {}, ports: [], volumes: [], restart: 'unless-stopped' };
  if (raw === undefined || raw === null) return o;
  if (!isObject(raw)) throw new DeployInputError('options: expected an object');
  only(raw, ['env', 'ports', 'volumes', 'restart', 'graceSeconds', 'concurrency', 'order', 'privileged', 'pidMode'], 'options: ');
  if (raw.env !== undefined) {
    const env = Array.isArray(raw.env) ? Object.fromEntries(raw.env.map((kv) => splitEnv(str(kv, 'options.env')))) : raw.env;
    if (!isObject(env)) throw new DeployInputError('options.env: expected an object of NAME: value (or a list of NAME=value)');
    if (Object.keys(env).length > MAX_LIST) throw new DeployInputError(`options.env: at most ${MAX_LIST} variables`);
    for (const [k, v] of Object.entries(env)) {
      if (!ENV_NAME.test(k)) throw new DeployInputError(`options.env: ${JSON.stringify(k)} is not a variable name`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new DeployInputError(`options.env.${k}: expected a string`);
      const s = String(v);
      if (s.includes('\0') || s.length > 32_768) throw new DeployInputError(`options.env.${k}: no NUL bytes, at most 32768 characters`);
      o.env[k] = s;
    }
  }
  const list = (v: unknown, field: string): string[] => {
    if (!Array.isArray(v) || v.length > MAX_LIST) throw new DeployInputError(`options.${field}: expected a list (at most ${MAX_LIST})`);
    return v.map((x) => str(x, `options.${field}`));
  };
  if (raw.ports !== undefined) o.ports = list(raw.ports, 'ports').map(parsePort);
  if (raw.volumes !== undefined) o.volumes = list(raw.volumes, 'volumes').map(parseVolume);
  if (raw.restart !== undefined) {
    const r = str(raw.restart, 'options.restart');
    if (!(RESTART_POLICIES as readonly string[]).includes(r)) throw new DeployInputError(`options.restart: one of ${RESTART_POLICIES.join(', ')}`);
    o.restart = r as RestartPolicy;
  }
  if (raw.graceSeconds !== undefined) {
    const g = raw.graceSeconds;
    if (typeof g !== 'number' || !Number.isFinite(g) || g < 0 || g > 600) throw new DeployInputError('options.graceSeconds: a number of seconds, 0 to 600');
    o.graceSeconds = g;
  }
  if (raw.concurrency !== undefined) {
    const c = raw.concurrency;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > 256) throw new DeployInputError('options.concurrency: an integer, 1 to 256');
    o.concurrency = c;
  }
  if (raw.order !== undefined) {
    const r = str(raw.order, 'options.order');
    if (!(UPDATE_ORDERS as readonly string[]).includes(r)) throw new DeployInputError(`options.order: one of ${UPDATE_ORDERS.join(', ')}`);
    o.order = r as UpdateOrder;
  }
  if (raw.privileged !== undefined) {
    if (typeof raw.privileged !== 'boolean') throw new DeployInputError('options.privileged: true or false');
    if (raw.privileged) o.privileged = true;
  }
  if (raw.pidMode !== undefined) {
    if (raw.pidMode !== 'host') throw new DeployInputError('options.pidMode: only "host" (the node\'s PID namespace)');
    o.pidMode = 'host';
  }
  return o;
}

function splitEnv(kv: string): [string, string] {
  const i = kv.indexOf('=');
  if (i <= 0) throw new DeployInputError(`options.env: ${JSON.stringify(kv)} is not NAME=value`);
  return [kv.slice(0, i), kv.slice(i + 1)];
}

/** The inventory hosts a request targets, in inventory order; unknown names are an error. */
export function resolveTargets(all: NodeSpec[], target: { nodes?: string[]; group?: string }): NodeSpec[] {
  if (target.group !== undefined) {
    const g = target.group;
    const nodes = g === 'all' ? all : all.filter((n) => n.groups.includes(g));
    if (nodes.length === 0) throw new DeployInputError(`group: no inventory host is in group "${g}"`);
    return nodes;
  }
  const byName = new Map(all.map((n) => [n.name, n]));
  const unknown = (target.nodes ?? []).filter((n) => !byName.has(n));
  if (unknown.length) throw new DeployInputError(`nodes: not in the inventory: ${unknown.join(', ')}`);
  return (target.nodes ?? []).map((n) => byName.get(n)!);
}
