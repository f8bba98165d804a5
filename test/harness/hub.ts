/**
 * `edgefleet hub` as a child process, for tests and benches that need the real thing: its own
 * environment (no EDGEFLEET_* of the caller), stderr kept, and helpers to wait for it and end it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanEnv } from './cli.js';
import type { Fleet } from './sshFleet.js';

export interface HubProcess {
  child: ChildProcess;
  base: string;
  port: number;
  stderr: () => string;
  /** Resolves with the exit code (or the signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running, and wait for it. */
  kill: () => Promise<void>;
}

/** Start `edgefleet hub` in `cwd` with `env` (EDGEFLEET_HUB_PORT set from `port`). Does not wait for it. */
export function spawnHub(o: { cwd: string; port: number; env?: Record<string, string>; args?: string[] }): HubProcess {
  const child = spawn(process.execPath, [BIN, 'hub', ...(o.args ?? [])], {
    cwd: o.cwd,
    env: cleanEnv({ EDGEFLEET_HUB_PORT: String(o.port), ...o.env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return { child, base: `http://127.0.0.1:${o.port}`, port: o.port, stderr: () => stderr, exited, kill };
}

/** Start the hub and wait until GET /health answers 200 (at most `timeoutMs`); throws with its stderr otherwise. */
export async function startHub(o: Parameters<typeof spawnHub>[0] & { timeoutMs?: number }): Promise<HubProcess> {
  const hub = spawnHub(o);
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  for (;;) {
    if (hub.child.exitCode !== null) throw new Error(`hub exited with ${hub.child.exitCode}:\n${hub.stderr()}`);
    try {
      if ((await fetch(`${hub.base}/health`, { signal: AbortSignal.timeout(1000) })).ok) return hub;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await hub.kill();
      throw new Error(`hub did not answer /health within ${o.timeoutMs ?? 20_000} ms:\n${hub.stderr()}`);
    }
    await sleep(100);
  }
}

/**
 * Start several hubs at once. If one fails to start, the others are killed before the error is
 * thrown: a failed `before` hook never assigns them, so nothing else would, and their child
 * processes would keep the test file from ever exiting.
 */
export async function startHubs(options: Parameters<typeof startHub>[0][]): Promise<HubProcess[]> {
  const settled = await Promise.allSettled(options.map((o) => startHub(o)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<HubProcess>).value);
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.kill() : undefined)));
  throw failed.reason;
}

/** An INI inventory of the fleet's nodes in group `edge` (plus `extra` lines), written to `dir/hosts.ini`. */
export function writeFleetInventory(dir: string, fleet: Fleet, extra: string[] = [], vars: (i: number) => string = () => ''): string {
  const lines = ['[edge]', ...fleet.nodes.map((n, i) => `${n.name} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile}${vars(i)}`), ...extra];
  const file = join(dir, 'hosts.ini');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bound any wait: a hub that hangs fails the test rather than CI. */
export function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
