import type { DeploymentAction } from '../../shared/domain/index.js';
import { invokeByName, JSON_FLAG, UsageError, type Command, type Flag, type Values } from '../command.js';
import { deployCommand, type DeployFlags } from '../deploy.js';

const TARGET: Flag[] = [
  { name: 'nodes', type: 'string', value: 'a,b', help: 'these nodes (inventory names)' },
  { name: 'group', type: 'string', value: 'G', help: 'every node of this inventory group' },
  { name: 'registry', type: 'string', value: 'R', help: 'the registry (registries: name) when several hold the model' },
  { name: 'concurrency', type: 'string', value: 'N', help: 'nodes at once (default deploy.concurrency)' },
];
const CONTAINER: Flag[] = [
  { name: 'env', type: 'string', multiple: true, value: 'K=V', help: 'an environment variable of the container' },
  { name: 'publish', short: 'p', type: 'string', multiple: true, value: 'H:C', help: 'publish container port C on host port H' },
  { name: 'volume', type: 'string', multiple: true, value: 'SRC:/DST[:ro]', help: 'mount SRC at /DST' },
  { name: 'restart', type: 'string', value: 'POLICY', help: 'restart policy: no, always, on-failure, unless-stopped' },
  { name: 'grace', type: 'string', value: 'SECONDS', help: 'seconds the new container must keep running before the old one stops' },
  { name: 'order', type: 'string', value: 'ORDER', help: 'stop-first or start-first (default: stop-first with host ports, host network or a GPU)' },
];

function pick(o: Values): Omit<DeployFlags, 'json'> {
  const f: Omit<DeployFlags, 'json'> = {};
  for (const k of ['nodes', 'group', 'registry', 'restart', 'grace', 'concurrency', 'order'] as const) if (typeof o[k] === 'string') f[k] = o[k] as string;
  if (Array.isArray(o.env)) f.env = o.env;
  if (Array.isArray(o.publish)) f.port = o.publish;
  if (Array.isArray(o.volume)) f.volume = o.volume;
  return f;
}

function action(name: DeploymentAction, summary: string, flags: Flag[], examples: string[]): Command {
  const tagged = name === 'deploy' || name === 'pull';
  return {
    name,
    args: tagged ? 'MODEL:TAG' : 'MODEL[:TAG]',
    summary,
    description: 'Give --nodes a,b or --group g. On a terminal a progress bar per node; exit 2 when a node failed.',
    flags: [...flags, JSON_FLAG],
    examples,
    run(o, args) {
      if (args.length !== 1) throw new UsageError(`${name} takes one MODEL${tagged ? ':TAG' : '[:TAG]'}`);
      if ((o.nodes === undefined) === (o.group === undefined)) throw new UsageError(`${name}: give --nodes a,b or --group g`);
      return deployCommand(name, args[0], { ...pick(o), json: o.json === true }, invokeByName);
    },
  };
}

export const deployActions: Command[] = [
  action('deploy', 'deploy a model image: pull, create, start, verify, then replace the previous container', [...TARGET, ...CONTAINER], [
    'edgefleet deploy lab/yolo:v8 --group jetsons -p 8080:8080 --env MODEL_THRESHOLD=0.5',
  ]),
  action('pull', 'download a model image onto the nodes only', TARGET, ['edgefleet pull lab/yolo:v8 --nodes jetson-01,jetson-02']),
  action('start', 'start the model’s container', TARGET, ['edgefleet start lab/yolo --group jetsons']),
  action('stop', 'stop the model’s container', TARGET, ['edgefleet stop lab/yolo --nodes jetson-01']),
  action('remove', 'remove the model’s container', TARGET, ['edgefleet remove lab/yolo:v7 --group jetsons']),
];
