import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * Debian's Prometheus (/usr/bin/prometheus, 2.42) on a loopback freePort with its own data
 * folder: scrape targets and/or the remote-write receiver. stop() ends it with SIGTERM (its WAL
 * flushed, as a service manager would), start() brings it back on the same port and data.
 */
export interface Prometheus {
  url: string;
  port: number;
  /** PromQL instant query at `timeSeconds` (default now): the result vector or matrix. */
  query(expr: string, timeSeconds?: number): Promise<PromResult[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  log(): string;
  /** Prometheus' own CPU time so far (user + system, µs), from /proc: what ingesting cost it. */
  cpuMicros(): number;
}

export interface PromResult {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export async function startPrometheus(o: { dir: string; scrape?: { job: string; target: string; intervalMs: number }; remoteWriteReceiver?: boolean }): Promise<Prometheus> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(join(o.dir, 'data'), { recursive: true });
  const config = o.scrape
    ? [
        'global:',
        `  scrape_interval: ${o.scrape.intervalMs}ms`,
        `  scrape_timeout: ${Math.max(100, o.scrape.intervalMs - 100)}ms`,
        'scrape_configs:',
        `  - job_name: ${o.scrape.job}`,
        '    honor_labels: true',
        '    static_configs:',
        `      - targets: ['${o.scrape.target}']`,
      ].join('\n')
    : 'global: {}\n';
  writeFileSync(join(o.dir, 'prometheus.yml'), config + '\n');
  let child: ChildProcess | undefined;
  let log = '';
  const args = [
    `--config.file=${join(o.dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(o.dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...(o.remoteWriteReceiver ? ['--web.enable-remote-write-receiver'] : []),
  ];
  const killOnExit = () => child?.kill('SIGKILL');

  const start = async () => {
    child = spawn(PROMETHEUS_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-20000)));
    process.once('exit', killOnExit);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
      try {
        if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    process.removeListener('exit', killOnExit);
  };
  const query = async (expr: string, timeSeconds?: number) => {
    const params = new URLSearchParams({ query: expr });
    if (timeSeconds !== undefined) params.set('time', String(timeSeconds));
    const res = await fetch(`${url}/api/v1/query?${params}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
    if (body.status !== 'success') throw new Error(`PromQL ${expr}: ${body.error}`);
    return body.data!.result.map((r) => ({
      metric: r.metric,
      value: r.value ? ([Number(r.value[0]), r.value[1]] as [number, string]) : undefined,
      values: r.values?.map(([t, v]) => [Number(t), v] as [number, string]),
    }));
  };
  const cpuMicros = () => {
    // /proc/PID/stat: utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
    const stat = readFileSync(`/proc/${child!.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  };
  await start();
  return { url, port, query, stop, start, log: () => log, cpuMicros };
}
