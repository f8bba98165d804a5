import { posix } from 'node:path';
import type { Config } from '../config/config.js';
import type { DeployRequest, NodeSpec } from '../domain/index.js';
import { DEPLOY_VARS } from './container.js';
import { DeployInputError } from './request.js';

/**
 * What POST /deployments may ask of a node's engine (the API key is not root on every node):
 * bind mounts only of host paths under `deploy.allowedBindMounts`; never a path that holds a
 * container engine's socket (that is root on the node) unless `deploy.allowEngineSocket`; no
 * privileged container unless `deploy.allowPrivileged`; no host PID namespace unless
 * `deploy.allowHostPid`. Named volumes are the engine's own and always allowed. A refusal is a
 * DeployInputError (400) naming the rule. The paths are the node's as written: a symlink on the
 * node is not followed (list real paths in allowedBindMounts).
 */
export type DeployPolicy = Pick<Config['deploy'], 'allowedBindMounts' | 'allowEngineSocket' | 'allowPrivileged' | 'allowHostPid' | 'engineSocket'>;

/** Where engines put their sockets: Docker, Podman (rootful; rootless under /run/user), containerd. */
const KNOWN_ENGINE_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock', '/run/podman/podman.sock', '/var/run/podman/podman.sock', '/run/containerd/containerd.sock', '/var/run/containerd/containerd.sock', '/run/user'];
const SOCKET_NAME = /(^|\/)(docker|podman|containerd|dockershim|crio)\.sock$/;

const clean = (p: string) => {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
};
/** `a` is `b` or a folder above it. */
const covers = (a: string, b: string) => a === b || a === '/' || b.startsWith(a + '/');

export function checkDeployPolicy(req: DeployRequest, targets: readonly NodeSpec[], p: DeployPolicy): void {
  const o = req.options;
  const allowed = p.allowedBindMounts.map((a) => {
    if (typeof a !== 'string' || !a.startsWith('/')) throw new Error(`deploy.allowedBindMounts: ${JSON.stringify(a)} is not an absolute path`);
    return clean(a);
  });
  const sockets = new Set([...KNOWN_ENGINE_SOCKETS, p.engineSocket, ...targets.map((n) => n.vars[DEPLOY_VARS.engineSocket]).filter((s): s is string => typeof s === 'string' && s.startsWith('/'))].map(clean));
  for (const v of o.volumes) {
    if (!v.source.startsWith('/')) continue; // a named volume
    const src = clean(v.source);
    const text = `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`;
    if (!allowed.some((a) => covers(a, src))) {
      throw new DeployInputError(`options.volumes: ${JSON.stringify(text)} binds host path ${src}, which is not under deploy.allowedBindMounts (${allowed.length ? allowed.join(', ') : 'none configured'})`);
    }
    const socket = [...sockets].find((s) => covers(src, s)) ?? (SOCKET_NAME.test(src) ? src : undefined);
    if (socket && !p.allowEngineSocket) {
      throw new DeployInputError(`options.volumes: ${JSON.stringify(text)} would give the container the engine socket ${socket} (root on the node); refused unless deploy.allowEngineSocket`);
    }
  }
  if (o.privileged && !p.allowPrivileged) throw new DeployInputError('options.privileged: a privileged container is root on the node; refused unless deploy.allowPrivileged');
  if (o.pidMode === 'host' && !p.allowHostPid) throw new DeployInputError('options.pidMode: the host PID namespace sees every process of the node; refused unless deploy.allowHostPid');
}
