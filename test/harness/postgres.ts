/**
 * Debian's real PostgreSQL 15 as an unprivileged throwaway cluster, for the store tests: initdb
 * in a temp dir, `postgres` listening on a unix socket in that dir and on a free loopback port,
 * trust auth for local connections (a password-protected role is made when asked), fsync off
 * (a test cluster that dies is thrown away anyway; a bench asks for a durable one, `server`).
 * As root, the cluster runs as the `postgres` user via runuser: PostgreSQL refuses to run as
 * root. close() stops it (fast shutdown, then SIGKILL) and removes the dir.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { freePort } from './ports.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** postgres://… on the loopback port, database `edgefleet`, user `edgefleet` (trust). */
  url: string;
  /** The same database over the unix socket: postgres://edgefleet@/edgefleet?host=DIR */
  socketUrl: string;
  port: number;
  dir: string;
  /** A fresh empty database in the cluster; its URL. */
  createDatabase(name: string): string;
  /** psql -At -c SQL against `edgefleet` (or `db`): the output, trimmed. */
  psql(sql: string, db?: string): string;
  /** The server log so far (for failing tests). */
  log(): string;
  /**
   * CPU seconds (user + system) the server has spent: the postmaster, its live processes
   * (backends, WAL writer, checkpointer…) and those that ended (its children's times), from /proc.
   */
  cpuSeconds(): number;
  close(): Promise<void>;
}

export interface TestPostgresOptions {
  /** Make role `edgefleet` log in with this password over TCP (md5/scram); default: trust. */
  password?: string;
  /**
   * A server as a user runs one (benches): PostgreSQL's durability defaults (fsync,
   * synchronous_commit, full_page_writes on) and these settings, e.g. `{ shared_buffers: '512MB' }`,
   * in place of the tests' fsync=off cluster with 64 MB of shared buffers.
   */
  server?: Record<string, string>;
}

export function postgresAvailable(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'postgres'));
}

/** Run as `postgres` when we are root (initdb and postgres refuse root). */
function asOwner(cmd: string, args: string[]): [string, string[]] {
  return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export async function startPostgres(opts: TestPostgresOptions = {}): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-pg-'));
  const data = join(dir, 'data');
  const root = userInfo().uid === 0;
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[], input?: string) => {
    const [c, a] = asOwner(cmd, args);
    return execFileSync(c, a, { input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 }).toString();
  };
  try {
    run(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}`);
  }
  const port = await freePort();
  // Password auth over TCP when asked, trust on the socket (the harness's own psql).
  const hba = opts.password
    ? 'local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n'
    : 'local all all trust\nhost all all 127.0.0.1/32 trust\n';
  writeFileSync(join(data, 'pg_hba.conf'), hba);
  const logFile = join(dir, 'postgres.log');
  const settings = opts.server ?? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', shared_buffers: '64MB' };
  const [c, a] = asOwner(join(PG_BIN, 'postgres'), [
    '-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1',
    ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    '-c', 'max_connections=200', '-c', 'log_min_messages=warning',
    '-c', `logging_collector=off`,
  ]);
  const proc: ChildProcess = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
  });
  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
    } catch {
      return undefined;
    }
  };
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const psql = (sql: string, db = 'edgefleet', user = 'postgres') =>
    run(join(PG_BIN, 'psql'), ['-h', dir, '-p', String(port), '-U', user, '-d', db, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql]).trim();
  const close = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      // The postmaster itself (runuser does not pass SIGINT on): SIGINT is a fast shutdown.
      const pid = postmasterPid();
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (pid) process.kill(pid, sig);
          else proc.kill(sig);
        } catch {
          /* gone already */
        }
      };
      kill('SIGINT');
      const t = setTimeout(() => kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`postgres exited: ${stderr}`);
      try {
        psql('SELECT 1', 'postgres');
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`postgres did not start in 30 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const pw = opts.password ? ` PASSWORD '${opts.password.replace(/'/g, "''")}'` : '';
    psql(`CREATE ROLE edgefleet LOGIN${pw}`, 'postgres');
    psql('CREATE DATABASE edgefleet OWNER edgefleet', 'postgres');
  } catch (e) {
    await close();
    throw e;
  }
  return {
    url: `postgres://edgefleet@127.0.0.1:${port}/edgefleet`,
    socketUrl: `postgres://edgefleet@/edgefleet?host=${encodeURIComponent(dir)}&port=${port}`,
    port,
    dir,
    createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      psql(`CREATE DATABASE ${name} OWNER edgefleet`, 'postgres');
      return `postgres://edgefleet@127.0.0.1:${port}/${name}`;
    },
    psql: (sql, db) => psql(sql, db),
    log: () => stderr + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    cpuSeconds: () => serverCpuSeconds(postmasterPid()),
    close,
  };
}

/** /proc/PID/stat fields after the command: [0] state, [1] ppid, … [11] utime, [12] stime, [13] cutime, [14] cstime (clock ticks, 100 a second). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function serverCpuSeconds(postmaster: number | undefined): number {
  if (!postmaster) return 0;
  const own = statFields(postmaster);
  if (!own) return 0;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const f = statFields(pid);
    if (f && Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100;
}

/**
 * One PostgreSQL for a test file, started before its tests and stopped after them (nothing where
 * none is installed: gate the suites on postgresAvailable()). Returns the running server.
 */
export function postgresPerFile(opts: TestPostgresOptions = {}): () => TestPostgres {
  let pg: TestPostgres | undefined;
  before(async () => {
    if (postgresAvailable()) pg = await startPostgres(opts);
  });
  after(async () => {
    await pg?.close();
  });
  return () => {
    if (!pg) throw new Error('no PostgreSQL 15 here: gate the suite on postgresAvailable()');
    return pg;
  };
}

