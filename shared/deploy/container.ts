import type Docker from 'dockerode';
import { DEPLOY_LABELS, UPDATE_ORDERS, type DeployOptions, type NodeSpec, type UpdateOrder } from '../domain/index.js';

/** The node vars that shape a deployment on that node (docs/deployments.md). */
export const DEPLOY_VARS = {
  /** The engine's unix socket on the node: `/run/podman/podman.sock` for Podman. */
  engineSocket: 'edgefleet_engine_socket',
  /** NVIDIA GPUs through the engine's device requests: `all`, a count, or device ids `0,1`. */
  gpus: 'edgefleet_gpus',
  /** The OCI runtime for the model's container: `nvidia` on Jetsons (JetPack's container runtime). */
  runtime: 'edgefleet_container_runtime',
  /** The container's network: `host` (common on edge nodes), `bridge`, a network name. Engine default when unset. */
  networkMode: 'edgefleet_network_mode',
  /** `stop-first` or `start-first` for this node's deploys (a request's options.order wins). */
  updateOrder: 'edgefleet_update_order',
} as const;

/** Docker allows long names; edgefleet keeps them under this. */
const MAX_NAME = 200;

/**
 * Docker container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. A long repository and tag are cut, never
 * the deployment id at the end: two deployments never get the same name.
 */
export function containerName(repository: string, tag: string, deploymentId: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const suffix = `-${deploymentId}`;
  return `edgefleet-${safe(repository)}-${safe(tag)}`.slice(0, MAX_NAME - suffix.length) + suffix;
}

/**
 * The update order on this node and why: the request's, else the node var's, else stop-first
 * when the container publishes host ports, uses host networking or asks for a GPU (two copies
 * would fight over the port or the GPU's memory), start-first otherwise.
 */
export function updateOrder(node: NodeSpec, o: DeployOptions): { order: UpdateOrder; reason: string } {
  if (o.order) return { order: o.order, reason: 'options.order' };
  const v = node.vars[DEPLOY_VARS.updateOrder];
  if (v !== undefined && v !== '') {
    if (!(UPDATE_ORDERS as readonly unknown[]).includes(v)) throw new Error(`${DEPLOY_VARS.updateOrder}: ${JSON.stringify(v)} is not ${UPDATE_ORDERS.join(' or ')}`);
    return { order: v as UpdateOrder, reason: DEPLOY_VARS.updateOrder };
  }
  if (o.ports.length) return { order: 'stop-first', reason: 'publishes host ports' };
  if (node.vars[DEPLOY_VARS.networkMode] === 'host') return { order: 'stop-first', reason: 'host networking' };
  if (gpuRequests(node.vars[DEPLOY_VARS.gpus])) return { order: 'stop-first', reason: 'requests a GPU' };
  return { order: 'start-first', reason: 'no host ports, host network or GPU' };
}

export interface ContainerSpecInput {
  node: NodeSpec;
  image: string;
  registry: string;
  repository: string;
  tag: string;
  digest: string | null;
  deploymentId: string;
  options: DeployOptions;
}

/** `edgefleet_gpus` → the engine's DeviceRequests for the NVIDIA driver; undefined for none. */
export function gpuRequests(value: unknown): Docker.DeviceRequest[] | undefined {
  if (value === undefined || value === null || value === '' || value === false) return undefined;
  const s = String(value).trim().toLowerCase();
  if (s === '0' || s === 'none' || s === 'false') return undefined;
  const base = { Driver: 'nvidia', Capabilities: [['gpu']] };
  if (s === 'all' || s === 'true') return [{ ...base, Count: -1 }];
  if (/^\d+$/.test(s)) return [{ ...base, Count: Number(s) }];
  if (/^[A-Za-z0-9-]+(,[A-Za-z0-9-]+)*$/.test(s)) return [{ ...base, DeviceIDs: String(value).split(',') }];
  throw new Error(`${DEPLOY_VARS.gpus}: ${JSON.stringify(value)} is not all, a count or device ids`);
}

/** The `POST /containers/create` body: name and labels carry model, tag and deployment id. */
export function containerSpec(i: ContainerSpecInput): Docker.ContainerCreateOptions {
  const o = i.options;
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp?: string; HostPort: string }[]> = {};
  for (const p of o.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ ...(p.hostIp ? { HostIp: p.hostIp } : {}), HostPort: String(p.hostPort) });
  }
  const runtime = i.node.vars[DEPLOY_VARS.runtime];
  const network = i.node.vars[DEPLOY_VARS.networkMode];
  if (network !== undefined && (typeof network !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(network))) throw new Error(`${DEPLOY_VARS.networkMode}: ${JSON.stringify(network)} is not a network name`);
  const gpus = gpuRequests(i.node.vars[DEPLOY_VARS.gpus]);
  const hostConfig: Docker.HostConfig = {
    RestartPolicy: { Name: o.restart, ...(o.restart === 'on-failure' ? { MaximumRetryCount: 5 } : {}) },
    ...(o.ports.length ? { PortBindings: bindings } : {}),
    ...(o.volumes.length ? { Binds: o.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`) } : {}),
    ...(typeof runtime === 'string' && runtime ? { Runtime: runtime } : {}),
    ...(network ? { NetworkMode: network } : {}),
    ...(gpus ? { DeviceRequests: gpus } : {}),
    ...(o.privileged ? { Privileged: true } : {}),
    ...(o.pidMode ? { PidMode: o.pidMode } : {}),
  };
  return {
    name: containerName(i.repository, i.tag, i.deploymentId),
    Image: i.image,
    Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [DEPLOY_LABELS.model]: i.repository,
      [DEPLOY_LABELS.tag]: i.tag,
      [DEPLOY_LABELS.registry]: i.registry,
      [DEPLOY_LABELS.deployment]: i.deploymentId,
      ...(i.digest ? { [DEPLOY_LABELS.digest]: i.digest } : {}),
    },
    ...(o.ports.length ? { ExposedPorts: exposed } : {}),
    HostConfig: hostConfig,
  };
}
