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
 * there was no previous container, or it could not be started again), `rolled_back` (the new
 * container failed and was removed; the previous one runs again), `interrupted` (the hub running
 * it stopped mid-way and its lease expired; the error names the last step). Stop-first adds
 * `stopping` (the previous container, before the new one starts) and, on a failure,
 * `restoring` (the previous container started again and verified).
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
  'restoring',
  'failed',
  'rolled_back',
  'interrupted',
] as const;
export type NodeDeployState = (typeof NODE_DEPLOY_STATES)[number];

export const FINAL_NODE_STATES: readonly NodeDeployState[] = ['running', 'unchanged', 'pulled', 'started', 'stopped', 'removed', 'failed', 'rolled_back', 'interrupted'];
export const FAILED_NODE_STATES: readonly NodeDeployState[] = ['failed', 'rolled_back', 'interrupted'];

/**
 * The deployment as a whole: `succeeded` (every node), `partial` (some failed), `failed` (all),
 * `interrupted` (the hub running it stopped and its lease expired before it finished).
 */
export const DEPLOYMENT_STATUSES = ['queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted'] as const;

/**
 * How a deploy replaces the previous container of the model on a node (Docker Swarm's
 * `update_config.order`): `stop-first` stops it before the new one starts (a fixed host port, the
 * GPU's memory: what cannot run twice) and starts it again if the new one fails; `start-first`
 * starts the new one beside it and stops the old one only once the new one runs.
 */
export const UPDATE_ORDERS = ['stop-first', 'start-first'] as const;
export type UpdateOrder = (typeof UPDATE_ORDERS)[number];
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
  /** Replace stop-first or start-first; unset: the node var edgefleet_update_order, else chosen from ports, network and GPUs. */
  order?: UpdateOrder;
  /** HostConfig.Privileged: refused unless deploy.allowPrivileged. */
  privileged?: boolean;
  /** HostConfig.PidMode `host`: refused unless deploy.allowHostPid. */
  pidMode?: 'host';
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
