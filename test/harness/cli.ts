import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The CLI as a user runs it (`npx edgefleet`). */
export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'edgefleet.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The caller's environment minus any EDGEFLEET_* (the test's machine must not leak in), plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGEFLEET_'))), ...extra };
}

/**
 * Runs `edgefleet ARGS` in `cwd` with `cleanEnv(env)`. A call that takes longer than `timeoutMs` is killed, so a
 * hang fails the test instead of CI.
 */
export function runCli(args: string[], o: { cwd: string; env?: Record<string, string>; timeoutMs?: number; launcher?: string[] }): Promise<CliResult> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    // `launcher`: what runs the CLI instead of `node BIN` (e.g. setpriv … node BIN, as another user).
    const [cmd, ...pre] = o.launcher ?? [process.execPath, BIN];
    const child = spawn(cmd!, [...pre, ...args], {
      cwd: o.cwd,
      env: cleanEnv(o.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: o.timeoutMs ?? 30_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - start }));
  });
}

/** The cells under `columns` in `node`'s row of a CLI table (columns are two or more spaces apart; a cell holds single spaces). */
export function tableCells(stdout: string, node: string, columns: string[]): string[] {
  const [head, ...lines] = stdout.split('\n');
  const names = head!.trim().split(/\s{2,}/);
  const row = lines.find((l) => l.startsWith(`${node} `))?.trim().split(/\s{2,}/);
  if (!row) throw new Error(`no row for ${node} in:\n${stdout}`);
  return columns.map((c) => {
    const i = names.indexOf(c);
    if (i < 0) throw new Error(`no column ${c} in ${head}`);
    return row[i]!;
  });
}
