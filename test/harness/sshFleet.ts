import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fingerprint, knownHostsName } from './knownHosts.js';
import { killTree, procTable, ticksPerSecond, treeTicks } from './procTree.js';

export interface FleetNode {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKeyFile: string;
  /** Shared by the fleet. */
  knownHostsFile: string;
  hostKeyFingerprint: string;
  /** The listening sshd; changes on start(). */
  pid: number;
  /** Fixture root dir given for this node. */
  root?: string;
}

export interface Fleet {
  dir: string;
  nodes: FleetNode[];
  knownHostsFile: string;
  clientKeyFile: string;
  /** Kill one node's sshd, existing connections included. */
  stop(name: string): Promise<void>;
  /** Restart it on the same address, port and host key. */
  start(name: string): Promise<void>;
  /** Stop all nodes and remove the fleet dir. */
  close(): Promise<void>;
  /**
   * CPU seconds used so far by a node's sshd and all its descendants, alive or reaped, across
   * restarts; summed over all nodes when no name is given.
   */
  nodeCpuSeconds(name?: string): number;
}

export interface FleetOptions {
  count: number;
  /** Per-node fixture roots, cycled over the nodes. */
  roots?: string[];
  /** Give node i the address `${hostPrefix}${i + 1}` (e.g. '127.0.1.'); default: all on 127.0.0.1. */
  hostPrefix?: string;
  /** Node i listens on basePort + i; default: free ports picked by the kernel. */
  basePort?: number;
  /** sshd MaxStartups: unauthenticated connections a node accepts at once. */
  maxStartups?: number;
  /** Per-node environment of its sessions (sshd SetEnv, e.g. a PATH with a fake df), cycled over the nodes. */
  env?: Record<string, string>[];
}

const SSHD = '/usr/sbin/sshd';
/** Its dash shell skips root's ~/.bashrc (pyenv init costs ~110 ms per command). */
const TEST_USER = 'edgefleet-test';
const READY_TIMEOUT_MS = 10_000;

const run = promisify(execFile);

interface Node extends FleetNode {
  config: string;
  proc?: ChildProcess;
  /** Ticks of earlier sshd incarnations of this node. */
  spentTicks: number;
}

/** What the 'exit' hook cleans up when a fleet was not closed. */
const live = new Set<Node>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const user = ensureTestUser();
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-fleet-'));
  liveDirs.add(dir);
  installExitHook();
  // sshd reads AuthorizedKeysFile with the login user's rights: the dir must be traversable.
  chmodSync(dir, 0o755);
  const clientKeyFile = join(dir, 'client_key');
  const knownHostsFile = join(dir, 'known_hosts');
  const authorizedKeys = join(dir, 'authorized_keys');
  const nodes: Node[] = [];
  try {
    const hosts = Array.from({ length: opts.count }, (_, i) => (opts.hostPrefix ? `${opts.hostPrefix}${i + 1}` : '127.0.0.1'));
    const ports = opts.basePort === undefined ? await freePorts(hosts) : hosts.map((_, i) => opts.basePort! + i);
    await keygen(clientKeyFile);
    writeFileSync(authorizedKeys, readFileSync(`${clientKeyFile}.pub`), { mode: 0o644 });
    const width = Math.max(2, String(opts.count).length);
    for (const [i, host] of hosts.entries()) {
      const name = `node${String(i + 1).padStart(width, '0')}`;
      const nodeDir = join(dir, name);
      mkdirSync(nodeDir);
      const root = opts.roots?.length ? opts.roots[i % opts.roots.length] : undefined;
      nodes.push({
        name, host, port: ports[i]!, user, privateKeyFile: clientKeyFile, knownHostsFile,
        hostKeyFingerprint: '', pid: 0, ...(root === undefined ? {} : { root }),
        config: join(nodeDir, 'sshd_config'), spentTicks: 0,
      });
    }
    const hostKeys = await Promise.all(
      nodes.map(async (n) => {
        const keyFile = join(dir, n.name, 'ssh_host_ed25519_key');
        await keygen(keyFile);
        const env = opts.env?.length ? opts.env[nodes.indexOf(n) % opts.env.length]! : {};
        writeFileSync(n.config, sshdConfig(n, keyFile, authorizedKeys, opts.maxStartups ?? 100, env));
        const [type, b64] = readFileSync(`${keyFile}.pub`, 'utf8').split(' ');
        n.hostKeyFingerprint = fingerprint(Buffer.from(b64!, 'base64'));
        return `${knownHostsName(n.host, n.port)} ${type} ${b64}\n`;
      }),
    );
    writeFileSync(knownHostsFile, hostKeys.join(''));
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation dir
    await Promise.all(nodes.map(launch));
  } catch (err) {
    nodes.forEach(halt);
    removeDir(dir);
    throw err;
  }

  const byName = (name: string): Node => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no fleet node named ${name}`);
    return node;
  };
  return {
    dir, nodes, knownHostsFile, clientKeyFile,
    stop: (name) => stopNode(byName(name)),
    start: async (name) => {
      const node = byName(name);
      if (!node.proc) await launch(node);
    },
    close: async () => {
      await Promise.all(nodes.map(stopNode));
      removeDir(dir);
    },
    nodeCpuSeconds: (name) => {
      const table = procTable();
      const ticks = (n: Node) => n.spentTicks + (n.proc ? treeTicks(n.pid, table) : 0);
      const total = name === undefined ? nodes.reduce((s, n) => s + ticks(n), 0) : ticks(byName(name));
      return total / ticksPerSecond();
    },
  };
}

function sshdConfig(n: Node, hostKey: string, authorizedKeys: string, maxStartups: number, env: Record<string, string>): string {
  return [
    `ListenAddress ${n.host}:${n.port}`,
    `HostKey ${hostKey}`,
    `PidFile ${join(n.config, '..', 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    `AllowUsers ${n.user}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'LogLevel ERROR',
    `MaxStartups ${maxStartups}`,
    'MaxSessions 100',
    ['SetEnv SHLVL=1', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' '),
    // Tunnels to unix sockets (the container engine's API, for deployments); OpenSSH's default, said out loud.
    'AllowStreamLocalForwarding yes',
    // Debian's default, which Ansible uses to copy its modules.
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

/** Start a node's sshd and resolve once it accepts TCP connections. */
async function launch(node: Node): Promise<void> {
  const proc = spawn(SSHD, ['-D', '-e', '-f', node.config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  node.proc = proc;
  node.pid = proc.pid!;
  live.add(node);
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code, sig) => reject(new Error(`sshd for ${node.name} exited (${code ?? sig}): ${stderr.trim()}`))),
  );
  exited.catch(() => {}); // only an error while waiting for readiness
  proc.once('exit', () => {
    if (node.proc !== proc) return; // halted
    // Died on its own: let start() bring it back.
    node.proc = undefined;
    live.delete(node);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await Promise.race([accepts(node.host, node.port), exited]))) {
    if (Date.now() > deadline) {
      halt(node);
      throw new Error(`sshd for ${node.name} not listening on ${node.host}:${node.port}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** halt(), then wait until the listener is gone so its port is free again. */
async function stopNode(node: Node): Promise<void> {
  const proc = node.proc;
  halt(node);
  if (proc && proc.exitCode === null && proc.signalCode === null) await once(proc, 'exit');
}

/** Kill a node's sshd tree, keeping the CPU it used for nodeCpuSeconds. Synchronous, for 'exit'. */
function halt(node: Node): void {
  if (!node.proc) return;
  node.spentTicks += treeTicks(node.pid);
  killTree(node.pid);
  node.proc = undefined;
  live.delete(node);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    live.forEach(halt);
    liveDirs.forEach(removeDir);
  });
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}

/** Ports the kernel reports free, all held at once so that no two nodes get the same one. */
async function freePorts(hosts: string[]): Promise<number[]> {
  const servers = await Promise.all(
    hosts.map(
      (host) =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once('error', reject);
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function keygen(file: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edgefleet-test-fleet', '-f', file]);
}

/**
 * The login user: TEST_USER when root (created if missing), else the current user, whose own
 * shell and rc files the nodes then run.
 */
function ensureTestUser(): string {
  if (process.getuid?.() !== 0) return userInfo().username;
  try {
    execFileSync('getent', ['passwd', TEST_USER], { stdio: 'ignore' });
  } catch {
    // Home '/' so that sshd's chdir works without a home dir; password '*' rather than
    // useradd's '!', which sshd without PAM treats as a locked account and refuses.
    try {
      execFileSync('useradd', ['--system', '--shell', '/bin/sh', '--no-create-home', '--home-dir', '/', '--password', '*', TEST_USER], {
        stdio: 'pipe',
      });
    } catch (err) {
      if ((err as { status?: number }).status !== 9) throw err; // 9: created meanwhile by another run
    }
  }
  return TEST_USER;
}
