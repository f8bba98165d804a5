/**
 * Debian's PostgreSQL 15 as a throwaway unprivileged cluster for the Grafana query tests: initdb
 * in a temp dir, `postgres` on a unix socket there only (no TCP port to collide with), trust auth,
 * fsync off. As root it runs as the `postgres` user (PostgreSQL refuses root). Queries go through
 * Debian's `psql` (no driver needed), their rows back as JSON. close() stops it and removes the dir.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  dir: string;
  /** Run SQL (several statements allowed) in database `edgefleet`; psql's unaligned output. */
  exec(sql: string, input?: string): string;
  /** The rows of one SELECT, as PostgreSQL's json_agg gives them (numbers stay numbers). */
  rows(select: string): Record<string, unknown>[];
  close(): Promise<void>;
}

export const pgAvailable = () => existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'postgres'));

const asOwner = (cmd: string, args: string[]): [string, string[]] => (userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);

export async function startPgCluster(): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-pgc-'));
  if (userInfo().uid === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[], input?: string) => {
    const [c, a] = asOwner(cmd, args);
    return execFileSync(c, a, { input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 256 * 2 ** 20 }).toString();
  };
  const data = join(dir, 'data');
  run(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const [c, a] = asOwner(join(PG_BIN, 'postgres'), ['-D', data, '-k', dir, '-c', 'listen_addresses=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']);
  let log = '';
  const child: ChildProcess = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-20_000)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const psql = (db: string, sql: string, input?: string) => run(join(PG_BIN, 'psql'), ['-h', dir, '-U', 'postgres', '-d', db, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], input);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // fast shutdown
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    process.removeListener('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}:\n${log}`);
      try {
        psql('postgres', 'SELECT 1');
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`postgres not ready within 30 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    psql('postgres', 'CREATE DATABASE edgefleet');
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    dir,
    exec: (sql, input) => psql('edgefleet', sql, input),
    rows: (select) => JSON.parse(psql('edgefleet', `SELECT COALESCE(json_agg(q), '[]') FROM (${select}) q`) || '[]') as Record<string, unknown>[],
    close: stop,
  };
}
