import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mapLimit } from '../collect/limit.js';
import type { Config, RegistryConfig } from '../config/config.js';
import { DEPLOY_LABELS, FAILED_NODE_STATES, type DeployRequest, type DeploymentStatus, type Logger, type NodeDeployState, type NodeSpec, type UpdateOrder } from '../domain/index.js';
import { Engine, EngineError, type EngineContainer, type RegistryAuth } from '../engine/index.js';
import { RegistryClient, registrySettings } from '../registry/index.js';
import type { SqlOrDb } from '../store/sqliteSql.js';
import {
  claimDeployment,
  claimNodeModel,
  deploymentNodes,
  finishDeployment,
  getDeployment,
  insertDeployment,
  recordNodeStep,
  recoverInterruptedDeployments,
  releaseNodeModel,
  renewLease,
  setDeploymentDigest,
  type DeploymentRow,
  type NodeUpdate,
} from '../store/deployments.js';
import type { TransportPool } from '../transport/pool.js';
import { containerSpec, DEPLOY_VARS, updateOrder } from './container.js';
import { checkDeployPolicy } from './policy.js';
import { DeployInputError, resolveTargets } from './request.js';

export interface DeployDeps {
  /** The store's SQL port (`store.sql`: SQLite or PostgreSQL), or a SQLite Db. */
  db: SqlOrDb;
  config: Config;
  pool: TransportPool;
  log: Logger;
  /** Every inventory host (the targets are resolved against them). */
  inventory: NodeSpec[];
  /** Each step of each node, as it is recorded (the CLI's progress bars). */
  onStep?: (deploymentId: string, node: string, u: NodeUpdate) => void;
  now?: () => number;
}

export interface NodeOutcome {
  node: string;
  state: NodeDeployState;
  error?: string;
  containerId?: string;
  containerName?: string;
  durationMs: number;
  /** Of which pulling the image (deploy and pull). */
  pullMs?: number;
  /** How the previous container was replaced (deploy). */
  order?: UpdateOrder;
}

export interface DeploymentSummary {
  id: string;
  status: DeploymentStatus;
  image: string;
  digest: string | null;
  nodes: NodeOutcome[];
  durationMs: number;
}

/** `a1b2c3d4e5f6`: short enough for a container name, random enough never to repeat. */
export const newDeploymentId = () => randomBytes(6).toString('hex');

/** Who holds a lease: this process (host, pid, and a random part for a reused pid). */
export const LEASE_OWNER = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

function registryConfig(config: Config, name: string): RegistryConfig {
  const r = config.registries.find((x) => x.name === name);
  if (!r) throw new DeployInputError(`registry: no registry named "${name}" is configured`);
  return r;
}

/** `http://127.0.0.1:5000` → `127.0.0.1:5000`: the engine's name for the registry. */
export function registryHost(url: string): string {
  const u = new URL(/^[a-z]+:\/\//i.test(url) ? url : `https://${url}`);
  return u.host;
}

/**
 * Record a deployment (every target node `queued`) and return its id: the work runs later
 * (`runDeployment`), here or in another process, from what is stored.
 */
export async function createDeployment(deps: Pick<DeployDeps, 'db' | 'config' | 'inventory' | 'now'>, req: DeployRequest): Promise<DeploymentRow> {
  const targets = resolveTargets(deps.inventory, req);
  checkDeployPolicy(req, targets, deps.config.deploy);
  const reg = registryConfig(deps.config, req.registry);
  const image = `${registryHost(reg.url)}/${req.repository}${req.tag ? `:${req.tag}` : ''}`;
  const id = newDeploymentId();
  await insertDeployment(deps.db, {
    id,
    action: req.action,
    registry: req.registry,
    repository: req.repository,
    tag: req.tag,
    image,
    target: req.nodes ? { nodes: req.nodes } : { group: req.group! },
    options: req.options,
    nodes: targets.map((n) => n.name),
    nowMs: (deps.now ?? Date.now)(),
  });
  return (await getDeployment(deps.db, id))!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run a recorded deployment, node by node (at most `concurrency` at once); one node failing
 * never stops the others. Every step of every node is written to the store as it happens.
 */
export async function runDeployment(deps: DeployDeps, id: string): Promise<DeploymentSummary> {
  const now = deps.now ?? Date.now;
  const t0 = performance.now();
  await recoverInterruptedDeployments(deps.db, now());
  const d = await getDeployment(deps.db, id);
  if (!d) throw new DeployInputError(`no deployment ${id}`);
  const leaseMs = deps.config.deploy.leaseSeconds * 1000;
  // Taken atomically: a second runner of the same id (a retried async invoke, two hubs) stops here.
  if (!(await claimDeployment(deps.db, id, LEASE_OWNER, now(), leaseMs))) {
    throw new DeployInputError(`deployment ${id} is ${(await getDeployment(deps.db, id))?.status ?? d.status}, not queued: it runs elsewhere or has run`);
  }
  // The heartbeat: a process that dies stops renewing, and the next handler marks it interrupted.
  let renewing = false;
  const heartbeat = setInterval(() => {
    // One renewal at a time: a slow database gets no pile of them.
    if (renewing) return;
    renewing = true;
    renewLease(deps.db, id, LEASE_OWNER, now(), leaseMs)
      .then((mine) => mine || deps.log.warn('deployment lease lost', { deployment: id }))
      .catch((e: Error) => deps.log.warn('deployment lease not renewed', { deployment: id, error: e.message }))
      .finally(() => (renewing = false));
  }, Math.max(100, leaseMs / 3));
  heartbeat.unref();
  try {
    return await runClaimed(deps, d, t0);
  } finally {
    clearInterval(heartbeat);
  }
}

async function runClaimed(deps: DeployDeps, d0: DeploymentRow, t0: number): Promise<DeploymentSummary> {
  const now = deps.now ?? Date.now;
  const id = d0.id;
  const names = (await deploymentNodes(deps.db, id)).map((n) => n.node);
  const byName = new Map(deps.inventory.map((n) => [n.name, n]));
  const reg = registryConfig(deps.config, d0.registry);
  const auth: RegistryAuth | undefined = reg.username ? { username: reg.username, password: reg.password, serveraddress: registryHost(reg.url) } : undefined;

  // The tag's digest, once, from the registry: a node already running it is left alone. When the
  // registry cannot say (down, or no such tag), each node's engine pulls and reports for itself.
  let digest: string | null = null;
  if (d0.action === 'deploy' || d0.action === 'pull') {
    const client = new RegistryClient(registrySettings(reg, { timeoutSeconds: deps.config.models.timeoutSeconds, pageSize: deps.config.models.pageSize }));
    try {
      digest = (await client.manifestDigest(d0.repository, d0.tag)) ?? null;
    } catch (e) {
      deps.log.warn('digest lookup failed', { deployment: id, error: (e as Error).message });
    } finally {
      client.close();
    }
  }
  await setDeploymentDigest(deps.db, id, digest);
  const d = { ...d0, digest };

  // The steps are written one after the other, in the order they were taken (a pull's progress
  // callback cannot wait for its write); a step's promise says whether it was stored.
  let written: Promise<unknown> = Promise.resolve();
  const step = (node: string, u: NodeUpdate): Promise<void> => {
    const at = now();
    const p = written.then(() => recordNodeStep(deps.db, id, node, u, at));
    written = p.catch(() => undefined);
    deps.onStep?.(id, node, u);
    return p;
  };
  const concurrency = d.options.concurrency ?? deps.config.deploy.concurrency;
  const outcomes = await mapLimit(names, concurrency, async (name): Promise<NodeOutcome> => {
    const started = performance.now();
    const node = byName.get(name);
    const timing = { pullMs: undefined as number | undefined };
    let outcome: Omit<NodeOutcome, 'node' | 'durationMs'>;
    if (!node) {
      const error = `${name} is no longer in the inventory`;
      await step(name, { state: 'failed', error, final: true });
      outcome = { state: 'failed', error };
    } else {
      try {
        outcome = await withNodeClaim(deps, d, name, (u) => step(name, u), () => runNode({ deps, d, node, auth, step: (u) => step(name, u), timing }));
      } catch (e) {
        // A bug or a store failure: recorded, never thrown past the other nodes.
        const error = (e as Error).message;
        try {
          await step(name, { state: 'failed', error, final: true });
        } catch {
          /* the store itself failed */
        }
        outcome = { state: 'failed', error };
      }
    }
    deps.log.info('deploy node', { deployment: id, node: name, state: outcome.state, order: outcome.order, error: outcome.error });
    return { node: name, ...outcome, durationMs: Math.round(performance.now() - started), ...(timing.pullMs !== undefined ? { pullMs: Math.round(timing.pullMs) } : {}) };
  });
  const failed = outcomes.filter((o) => FAILED_NODE_STATES.includes(o.state)).length;
  const status: DeploymentStatus = failed === 0 ? 'succeeded' : failed === outcomes.length ? 'failed' : 'partial';
  await written;
  await finishDeployment(deps.db, id, status, failed ? `${failed} of ${outcomes.length} nodes failed` : null, now());
  return { id, status, image: d.image, digest, nodes: outcomes, durationMs: Math.round(performance.now() - t0) };
}

/**
 * Run `work` holding the (node, model) claim: a second deployment of the same model to the same
 * node waits here (`queued`, saying for whom) until the first is done, so the two never take
 * each other's containers for "previous" ones. A pull changes no container and claims nothing.
 */
async function withNodeClaim(
  deps: DeployDeps,
  d: DeploymentRow,
  node: string,
  step: (u: NodeUpdate) => Promise<void>,
  work: () => Promise<Omit<NodeOutcome, 'node' | 'durationMs'>>,
): Promise<Omit<NodeOutcome, 'node' | 'durationMs'>> {
  if (d.action === 'pull') return work();
  const now = deps.now ?? Date.now;
  const claim = { node, repository: d.repository, deploymentId: d.id, owner: LEASE_OWNER };
  const leaseMs = deps.config.deploy.leaseSeconds * 1000;
  const giveUp = performance.now() + deps.config.deploy.claimWaitSeconds * 1000;
  let waitingFor: string | undefined;
  for (;;) {
    const c = await claimNodeModel(deps.db, claim, now(), leaseMs);
    if (c.claimed) break;
    if (c.holder !== waitingFor) {
      waitingFor = c.holder;
      await step({ state: 'queued', message: `waiting for deployment ${c.holder} of ${d.repository} on ${node}` });
    }
    if (performance.now() > giveUp) {
      const error = `deployment ${c.holder} of ${d.repository} still runs on ${node} after ${deps.config.deploy.claimWaitSeconds} s`;
      await step({ state: 'failed', error, final: true });
      return { state: 'failed', error };
    }
    // Expired claims are taken over by the upsert itself; a live one is polled.
    await recoverInterruptedDeployments(deps.db, now());
    await sleep(250);
  }
  try {
    return await work();
  } finally {
    await releaseNodeModel(deps.db, claim);
  }
}

interface NodeRun {
  deps: DeployDeps;
  d: DeploymentRow;
  node: NodeSpec;
  auth: RegistryAuth | undefined;
  step: (u: NodeUpdate) => Promise<void>;
  timing: { pullMs: number | undefined };
  order?: UpdateOrder;
}

export function engineFor(pool: TransportPool, config: Config, node: NodeSpec): Engine {
  const socket = node.vars[DEPLOY_VARS.engineSocket];
  return new Engine(pool.get(node), typeof socket === 'string' && socket ? socket : config.deploy.engineSocket, config.deploy.engineTimeoutSeconds * 1000);
}

const describeError = (e: unknown) => (e instanceof EngineError ? e.message : (e as Error).message);

async function runNode(r: NodeRun): Promise<Omit<NodeOutcome, 'node' | 'durationMs'>> {
  const { deps, d, node, step } = r;
  const engine = engineFor(deps.pool, deps.config, node);
  const fail = async (error: string, state: NodeDeployState = 'failed'): Promise<Omit<NodeOutcome, 'node' | 'durationMs'>> => {
    await step({ state, error, final: true });
    return { state, error };
  };
  let mine: EngineContainer[];
  try {
    mine = await engine.listContainers({ [DEPLOY_LABELS.model]: d.repository });
  } catch (e) {
    return fail(describeError(e));
  }
  switch (d.action) {
    case 'deploy':
      return deployNode(r, engine, mine, fail);
    case 'pull': {
      const pulled = await pull(r, engine);
      if (pulled) return fail(pulled);
      await step({ state: 'pulled', progressPercent: 100, final: true });
      return { state: 'pulled' };
    }
    case 'start': {
      // The newest container of the model (of the tag, when one was given).
      const pick = mine.filter((c) => !d.tag || c.labels[DEPLOY_LABELS.tag] === d.tag).sort((a, b) => b.createdUnixSeconds - a.createdUnixSeconds)[0];
      if (!pick) return fail(`no container of ${d.repository}${d.tag ? ':' + d.tag : ''} on ${node.name}`);
      try {
        await engine.start(pick.id);
      } catch (e) {
        return fail(describeError(e));
      }
      await step({ state: 'started', containerId: pick.id, containerName: pick.name, final: true });
      return { state: 'started', containerId: pick.id, containerName: pick.name };
    }
    case 'stop':
    case 'remove': {
      const which = mine.filter((c) => !d.tag || c.labels[DEPLOY_LABELS.tag] === d.tag);
      await step({ state: d.action === 'stop' ? 'stopping' : 'removing', message: which.map((c) => c.name).join(', ') || 'no container' });
      try {
        for (const c of which) {
          if (c.state === 'running' || c.state === 'restarting') await engine.stop(c.id, deps.config.deploy.stopTimeoutSeconds);
          if (d.action === 'remove') await engine.remove(c.id, { force: true });
        }
      } catch (e) {
        return fail(describeError(e));
      }
      const state = d.action === 'stop' ? 'stopped' : 'removed';
      await step({ state, final: true });
      return { state };
    }
  }
}

/** Pull with progress, recorded at most every 10 % or 1 s. Returns the engine's error, if any. */
async function pull(r: NodeRun, engine: Engine): Promise<string | undefined> {
  const { deps, d, step } = r;
  await step({ state: 'pulling', progressPercent: 0, message: d.image });
  let lastPercent = 0;
  let lastMs = performance.now();
  const t = performance.now();
  try {
    await engine.pull(d.image, {
      ...(r.auth ? { auth: r.auth } : {}),
      timeoutMs: deps.config.deploy.pullTimeoutSeconds * 1000,
      onProgress: (p) => {
        if (p.percent === undefined) return;
        const nowMs = performance.now();
        if (p.percent >= 100 || p.percent - lastPercent >= 10 || (nowMs - lastMs >= 1000 && p.percent > lastPercent)) {
          lastPercent = p.percent;
          lastMs = nowMs;
          step({ state: 'pulling', progressPercent: Math.round(p.percent * 10) / 10, message: `${p.bytes}/${p.totalBytes} bytes` }).catch((e: Error) =>
            deps.log.warn('pull progress not recorded', { deployment: d.id, error: e.message }),
          );
        }
      },
    });
  } catch (e) {
    r.timing.pullMs = performance.now() - t;
    return describeError(e);
  }
  r.timing.pullMs = performance.now() - t;
  if (lastPercent < 100) await step({ state: 'pulling', progressPercent: 100, message: 'pulled' });
  return undefined;
}

async function deployNode(
  r: NodeRun,
  engine: Engine,
  mine: EngineContainer[],
  fail: (error: string, state?: NodeDeployState) => Promise<Omit<NodeOutcome, 'node' | 'durationMs'>>,
): Promise<Omit<NodeOutcome, 'node' | 'durationMs'>> {
  const { deps, d, node, step } = r;
  // The same digest already running: nothing to do.
  const same = d.digest ? mine.find((c) => c.state === 'running' && c.labels[DEPLOY_LABELS.digest] === d.digest) : undefined;
  if (same) {
    await step({ state: 'unchanged', containerId: same.id, containerName: same.name, message: `${d.digest} already runs as ${same.name}`, final: true });
    return { state: 'unchanged', containerId: same.id, containerName: same.name };
  }
  const previous = mine.filter((c) => c.labels[DEPLOY_LABELS.deployment] !== d.id);
  const previousRunning = previous.filter((c) => c.state === 'running' || c.state === 'restarting');

  let spec;
  let order: UpdateOrder;
  let reason: string;
  try {
    ({ order, reason } = updateOrder(node, d.options));
    spec = containerSpec({ node, image: d.image, registry: d.registry, repository: d.repository, tag: d.tag, digest: d.digest, deploymentId: d.id, options: d.options });
  } catch (e) {
    return fail((e as Error).message);
  }
  r.order = order;
  const stopFirst = order === 'stop-first' && previousRunning.length > 0;
  const withOrder = (o: Omit<NodeOutcome, 'node' | 'durationMs'>) => ({ ...o, order });

  // The old container keeps running through the pull: a tag that does not exist changes nothing.
  const pulled = await pull(r, engine);
  if (pulled) return withOrder(await fail(pulled));

  const names = (cs: EngineContainer[]) => cs.map((c) => c.name).join(', ');
  await step({
    state: 'creating',
    updateOrder: order,
    message: `${order} (${reason}): creating ${spec.name}${previousRunning.length ? `, replacing ${names(previousRunning)}` : ''}`,
    containerName: spec.name ?? null,
    previousContainerId: previousRunning[0]?.id ?? null,
  });
  const graceSeconds = d.options.graceSeconds ?? deps.config.deploy.graceSeconds;
  let id: string | undefined;
  /** Previous containers this deploy stopped (stop-first): started again if the new one fails. */
  const stopped: EngineContainer[] = [];
  // The new container failed: remove it; start again what stop-first stopped, and check it runs.
  const rollback = async (error: string) => {
    if (id) {
      try {
        await engine.remove(id, { force: true });
      } catch (e) {
        error += `; removing the failed container: ${describeError(e)}`;
      }
    }
    if (stopped.length === 0) return withOrder(await fail(error, previousRunning.length ? 'rolled_back' : 'failed'));
    await step({ state: 'restoring', message: `${order}: starting ${names(stopped)} again` });
    const problems: string[] = [];
    for (const c of stopped) {
      try {
        await engine.start(c.id);
        const bad = await verify(engine, c.id, Math.min(graceSeconds, 5));
        if (bad) problems.push(`${c.name} ${bad}`);
      } catch (e) {
        problems.push(`${c.name}: ${describeError(e)}`);
      }
    }
    if (problems.length) return withOrder(await fail(`${error}; the previous container could not be started again: ${problems.join('; ')}`, 'failed'));
    return withOrder(await fail(`${error}; ${names(stopped)} runs again`, 'rolled_back'));
  };
  try {
    id = await engine.createContainer(spec);
  } catch (e) {
    return rollback(describeError(e));
  }
  if (stopFirst) {
    await step({ state: 'stopping', containerId: id, message: `${order}: stopping ${names(previousRunning)} before starting ${spec.name}` });
    for (const c of previousRunning) {
      try {
        await engine.stop(c.id, deps.config.deploy.stopTimeoutSeconds);
        stopped.push(c);
      } catch (e) {
        // It may have stopped anyway: start it again with the others.
        stopped.push(c);
        return rollback(`stopping ${c.name}: ${describeError(e)}`);
      }
    }
  }
  await step({ state: 'starting', containerId: id, message: `${order}: starting ${spec.name}` });
  try {
    await engine.start(id);
  } catch (e) {
    return rollback(describeError(e));
  }
  await step({ state: 'verifying', message: `${order}: still running after ${graceSeconds} s?` });
  try {
    const bad = await verify(engine, id, graceSeconds);
    if (bad) {
      const logs = await engine.logsTail(id);
      return rollback(`container ${spec.name} ${bad}${logs ? ` (last output: ${logs.slice(-500)})` : ''}`);
    }
  } catch (e) {
    return rollback(describeError(e));
  }
  // Only now the previous containers of the model go (stop-first: already stopped).
  if (previous.length) {
    await step({ state: 'replacing', message: `${order}: ${stopFirst ? 'removing' : 'stopping and removing'} ${names(previous)}` });
    const problems: string[] = [];
    for (const c of previous) {
      try {
        if ((c.state === 'running' || c.state === 'restarting') && !stopped.includes(c)) await engine.stop(c.id, deps.config.deploy.stopTimeoutSeconds);
        await engine.remove(c.id, { force: true });
      } catch (e) {
        problems.push(describeError(e));
      }
    }
    if (problems.length) deps.log.warn('previous container not removed', { node: node.name, deployment: d.id, error: problems.join('; ') });
    await step({ state: 'running', containerId: id, message: problems.length ? `running (${order}); previous container not removed: ${problems.join('; ')}` : `running (${order}); replaced ${names(previous)}`, final: true });
  } else {
    await step({ state: 'running', containerId: id, message: `running (${order})`, final: true });
  }
  return { state: 'running', order, containerId: id, ...(spec.name ? { containerName: spec.name } : {}) };
}

/**
 * Watch a container through `graceSeconds` (every 250 ms, so one that dies fails at once): the
 * reason it is not healthy, or undefined when it stayed up without restarts.
 */
async function verify(engine: Engine, id: string, graceSeconds: number): Promise<string | undefined> {
  const until = performance.now() + graceSeconds * 1000;
  for (;;) {
    const left = until - performance.now();
    if (left > 0) await sleep(Math.min(left, 250));
    const s = await engine.inspect(id);
    const healthy = s.running && !s.restarting && s.restartCount === 0;
    if (healthy && performance.now() < until) continue;
    if (healthy) return undefined;
    const why = s.running || s.restarting ? `restarted ${s.restartCount} time(s) within ${graceSeconds} s` : `exited with code ${s.exitCode} within ${graceSeconds} s`;
    return `${why}${s.error ? `: ${s.error}` : ''}`;
  }
}

/** `modelStatus`: the edgefleet containers on each node, as its engine lists them now. */
export async function modelStatus(deps: Omit<DeployDeps, 'db'>, o: { repository?: string; nodes?: string[]; group?: string }): Promise<{ node: string; containers?: EngineContainer[]; error?: string }[]> {
  const targets = o.nodes || o.group !== undefined ? resolveTargets(deps.inventory, o) : deps.inventory;
  return mapLimit(targets, deps.config.deploy.concurrency, async (node) => {
    try {
      const list = await engineFor(deps.pool, deps.config, node).listContainers({ [DEPLOY_LABELS.model]: o.repository });
      return { node: node.name, containers: list };
    } catch (e) {
      return { node: node.name, error: describeError(e) };
    }
  });
}
