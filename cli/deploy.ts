import type { DeploymentSummary } from '../shared/deploy/index.js';
import type { DeploymentAction } from '../shared/domain/index.js';
import { FINAL_NODE_STATES } from '../shared/domain/index.js';
import { loadConfig } from '../shared/config/config.js';
import { progress } from '../shared/handler/progress.js';
import { storeFor } from '../shared/handler/resources.js';
import { deploymentEvents, deploymentNodes, getDeployment, listDeployments, recoverInterruptedDeployments } from '../shared/store/index.js';
import type { DeploymentNodeRow, DeploymentRow, NodeUpdate } from '../shared/store/deployments.js';
import { localTime, table, writeJson, writeJsonOrTable } from './table.js';
import { displayWidth, padEndToWidth, truncateToWidth } from './width.js';

export interface DeployFlags {
  nodes?: string;
  group?: string;
  registry?: string;
  env?: string[];
  port?: string[];
  volume?: string[];
  restart?: string;
  grace?: string;
  concurrency?: string;
  order?: string;
  json: boolean;
}

const FUNCTIONS: Record<DeploymentAction, string> = { deploy: 'deployModel', pull: 'pullModel', start: 'startModel', stop: 'stopModel', remove: 'removeModel' };

/** The handler event from the CLI's words; the handler checks every field. */
export function deployEvent(action: DeploymentAction, ref: string | undefined, f: DeployFlags): Record<string, unknown> {
  if (!ref) throw new Error(`${action} needs MODEL:TAG`);
  const hasTag = ref.lastIndexOf(':') > ref.lastIndexOf('/');
  const options: Record<string, unknown> = {};
  if (f.env?.length) options.env = f.env;
  if (f.port?.length) options.ports = f.port;
  if (f.volume?.length) options.volumes = f.volume;
  if (f.restart !== undefined) options.restart = f.restart;
  if (f.grace !== undefined) options.graceSeconds = Number(f.grace);
  if (f.concurrency !== undefined) options.concurrency = Number(f.concurrency);
  if (f.order !== undefined) options.order = f.order;
  return {
    action,
    ...(hasTag ? { image: ref } : { model: ref }),
    ...(f.nodes !== undefined ? { nodes: f.nodes.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(f.group !== undefined ? { group: f.group } : {}),
    ...(f.registry !== undefined ? { registry: f.registry } : {}),
    ...(Object.keys(options).length ? { options } : {}),
  };
}

const BAR = 20;
function bar(percent: number | null | undefined): string {
  const p = Math.max(0, Math.min(100, percent ?? 0));
  const full = Math.round((p / 100) * BAR);
  return `[${'#'.repeat(full)}${'.'.repeat(BAR - full)}] ${p.toFixed(0).padStart(3)}%`;
}

/**
 * `edgefleet deploy|pull|start|stop|remove MODEL[:TAG] --nodes a,b | --group g`: runs the
 * action's handler here, in the foreground. On a terminal one progress bar per node, redrawn
 * in place; otherwise one plain line per step; `--json` the summary only.
 */
export async function deployCommand(action: DeploymentAction, ref: string | undefined, f: DeployFlags, invoke: (fn: string, event: unknown) => Promise<unknown>): Promise<number> {
  const event = deployEvent(action, ref, f);
  const tty = process.stderr.isTTY === true && !f.json;
  const rows = new Map<string, { state: string; percent: number | null; note: string }>();
  let drawn = 0;
  const draw = () => {
    const width = Math.max(4, ...[...rows.keys()].map(displayWidth));
    // One terminal line each (a longer one would wrap and break the redraw), cut by columns, not characters.
    const lines = [...rows.entries()].map(([node, r]) => truncateToWidth(`${padEndToWidth(node, width)}  ${r.state.padEnd(11)} ${r.state === 'pulling' ? bar(r.percent) : ' '.repeat(BAR + 7)}  ${r.note}`.replace(/[\p{Cc}]+/gu, ' '), (process.stderr.columns ?? 120) - 1));
    process.stderr.write((drawn ? `\x1b[${drawn}F` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''));
    drawn = lines.length;
  };
  const onStep = (_fn: string, id: string, node: string, u: NodeUpdate) => {
    const r = rows.get(node) ?? { state: 'queued', percent: null, note: '' };
    r.state = u.state;
    if (u.progressPercent !== undefined) r.percent = u.progressPercent;
    r.note = u.error ?? (FINAL_NODE_STATES.includes(u.state) ? (u.message ?? '') : '');
    rows.set(node, r);
    if (tty) draw();
    else if (!f.json) process.stderr.write(`${id} ${node} ${u.state}${u.progressPercent != null ? ` ${u.progressPercent}%` : ''}${u.error ? `: ${u.error}` : u.message ? ` (${u.message})` : ''}\n`);
  };
  progress.on('deploy', onStep);
  let summary: DeploymentSummary;
  try {
    summary = (await invoke(FUNCTIONS[action], event)) as DeploymentSummary;
  } finally {
    progress.off('deploy', onStep);
  }
  writeJsonOrTable(f.json, summary, ['NODE', 'STATE', 'ORDER', 'CONTAINER', 'SECONDS', 'ERROR'], () =>
    summary.nodes.map((n) => [n.node, n.state, n.order ?? null, n.containerName ?? null, (n.durationMs / 1000).toFixed(1), n.error ?? '']),
  );
  if (!f.json) {
    process.stdout.write(`\ndeployment ${summary.id} ${summary.status}: ${summary.image}${summary.digest ? `@${summary.digest}` : ''} in ${(summary.durationMs / 1000).toFixed(1)} s\n`);
  }
  return summary.status === 'succeeded' ? 0 : 2;
}

/** `edgefleet deployments [ID]`: the latest deployments, or one with its nodes and events. */
export async function deploymentsCommand(id: string | undefined, asJson: boolean): Promise<number> {
  const db = (await storeFor(loadConfig())).sql;
  await recoverInterruptedDeployments(db, Date.now());
  if (id !== undefined) {
    const d = await getDeployment(db, id);
    if (!d) throw new Error(`no deployment ${id}`);
    const nodes = await deploymentNodes(db, id);
    const events = await deploymentEvents(db, id);
    if (asJson) {
      writeJson({ ...d, nodes, events });
      return 0;
    }
    process.stdout.write(`${d.id} ${d.action} ${d.image} ${d.status}${d.error ? ` (${d.error})` : ''}, created ${localTime(d.createdUnixSeconds)}\n\n`);
    process.stdout.write(table(['NODE', 'STATE', 'ORDER', 'PROGRESS', 'CONTAINER', 'ERROR'], nodes.map((n) => [n.node, n.state, n.updateOrder, n.progressPercent === null ? null : `${n.progressPercent}%`, n.containerName, n.error ?? ''])) + '\n\n');
    const t0 = events[0]?.timeUnixMs ?? 0;
    if (events.length === 0) process.stdout.write('no events yet\n');
    else process.stdout.write(table(['+SECONDS', 'NODE', 'STATE', 'PROGRESS', 'MESSAGE'], events.map((e) => [((e.timeUnixMs - t0) / 1000).toFixed(3), e.node, e.state, e.progressPercent === null ? null : `${e.progressPercent}%`, e.message ?? ''])) + '\n');
    return 0;
  }
  const list = await listDeployments(db, { limit: 50 });
  const withNodes: (DeploymentRow & { nodes: DeploymentNodeRow[] })[] = [];
  for (const d of list) withNodes.push({ ...d, nodes: await deploymentNodes(db, d.id) });
  writeJsonOrTable(asJson, withNodes, ['ID', 'ACTION', 'IMAGE', 'STATUS', 'NODES', 'CREATED'], () =>
    withNodes.map((d) => [d.id, d.action, `${d.repository}${d.tag ? ':' + d.tag : ''}`, d.status, summarize(d.nodes.map((n) => n.state)), localTime(d.createdUnixSeconds)]),
    'no deployments yet (edgefleet deploy MODEL:TAG --nodes a,b starts one)',
  );
  return 0;
}

function summarize(states: string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
}
