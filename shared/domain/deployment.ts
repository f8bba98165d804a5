/**
 * Model deployments: a model image from a registry run as a container on chosen nodes, through
 * each node's container engine (Docker Engine API), node by node, with every step recorded.
 */

/** What a deployment does on each node. `deploy` = pull, create, start, verify, replace. */
export const DEPLOYMENT_ACTIONS = ['deploy', 'pull', 'start', 'stop', 'remove'] as const;
export type DeploymentAction = (typeof DEPLOYMENT_ACTIONS)[number];

/**
 * One node's state in a deployment. Steps: `queued` → `pulling` (with a percentage) →
 * `creating` → `starting` → `verifying` (still running after the grace period?) → `replacing`
 * (stopping and removing the previous container of the model) → `running`. Final states:
 * `running`, `unchanged` (the same digest already runs: nothing done), `pulled` (pull only),
 * `started`, `stopped`, `removed`, `failed` (with the engine's reason; nothing was changed, or
 * there was no previous container), `rolled_back` (the new container failed and was removed;
 * the previous one still runs).
 */
export const NODE_DEPLOY_STATES = [
  'queued',
  'pulling',
  'creating',
  'starting',
  'verifying',
  'replacing',
  'stopping',
  'removing',
  'running',
  'unchanged',
  'pulled',
  'started',
  'stopped',
  'removed',
  'failed',
  'rolled_back',
] as const;
export type NodeDeployState = (typeof NODE_DEPLOY_STATES)[number];

export const FINAL_NODE_STATES: readonly NodeDeployState[] = ['running', 'unchanged', 'pulled', 'started', 'stopped', 'removed', 'failed', 'rolled_back'];
export const FAILED_NODE_STATES: readonly NodeDeployState[] = ['failed', 'rolled_back'];

/** The deployment as a whole: `succeeded` (every node), `partial` (some failed), `failed` (all). */
export const DEPLOYMENT_STATUSES = ['queued', 'running', 'succeeded', 'partial', 'failed'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** A port the container publishes: `8080:80`, `127.0.0.1:8080:80/udp`. */
export interface PortBinding {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** A bind mount (`/data/models:/models:ro`) or a named volume (`cache:/cache`). */
export interface VolumeBinding {
  source: string;
  target: string;
  readOnly: boolean;
}

export const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** What the request may set on the container; the rest comes from the image and node vars. */
export interface DeployOptions {
  env: Record<string, string>;
  ports: PortBinding[];
  volumes: VolumeBinding[];
  restart: RestartPolicy;
  /** Seconds the new container must stay up before the previous one is stopped. */
  graceSeconds?: number;
  /** Nodes worked on at once. */
  concurrency?: number;
}

/** A checked request: which model, where, how. */
export interface DeployRequest {
  action: DeploymentAction;
  /** Name of a configured registry. */
  registry: string;
  repository: string;
  tag: string;
  /** Exactly one of the two. */
  nodes?: string[];
  group?: string;
  options: DeployOptions;
}

/** Container labels edgefleet sets and finds its containers by. */
export const DEPLOY_LABELS = {
  model: 'io.edgefleet.model',
  tag: 'io.edgefleet.model.tag',
  registry: 'io.edgefleet.registry',
  digest: 'io.edgefleet.image.digest',
  deployment: 'io.edgefleet.deployment',
} as const;
