/**
 * Podman's Docker-compatible API service as a test node's container engine: one rootful
 * `podman system service` per node, each with its own storage, run and tmp folders and config
 * files (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF), so nothing in
 * /etc/containers is touched and two nodes never share a container. What this machine needs
 * (Debian's Podman 4.3): the runc runtime, cgroupfs, lowered default ulimits, file locks (no
 * shared /dev/shm lock table between instances), the vfs driver, host networking (no iptables
 * for netavark), and the test registry marked insecure. The socket is handed to the sshd login
 * user, who reaches it by stream-local forwarding.
 *
 * Also: model images built from a real rootfs (Debian's static busybox) as a layer tar, pushed
 * through the registry's API, runnable without the internet.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Pusher } from './registry.js';

export const PODMAN = '/usr/bin/podman';
export const BUSYBOX_STATIC = '/bin/busybox';

export interface PodmanEngine {
  dir: string;
  socketPath: string;
  /** Run a podman command against this instance (for the tests' own checks). */
  podman(args: string[]): string;
  /** Containers of this engine: name → state. */
  containers(): { name: string; state: string; labels: Record<string, string> }[];
  close(): Promise<void>;
}

const live = new Set<PodmanEngine>();
let hooked = false;

export interface PodmanOptions {
  /** `127.0.0.1:PORT` registries to allow over plain HTTP. */
  insecureRegistries: string[];
  /** The login user that must be able to open the socket. */
  socketOwner?: string;
}

export async function startPodman(o: PodmanOptions): Promise<PodmanEngine> {
  if (!existsSync(PODMAN)) throw new Error('podman is not installed (apt-get install podman runc)');
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-podman-'));
  chmodSync(dir, 0o755);
  const conf = join(dir, 'containers.conf');
  writeFileSync(
    conf,
    [
      '[engine]',
      'runtime="runc"',
      'cgroup_manager="cgroupfs"',
      'events_logger="file"',
      'lock_type="file"',
      'network_backend="netavark"',
      `tmp_dir="${join(dir, 'tmp')}"`,
      '[containers]',
      'default_ulimits=["nofile=1024:1024","nproc=1024:1024"]',
      'netns="host"',
      'log_driver="k8s-file"',
      '',
    ].join('\n'),
  );
  const storage = join(dir, 'storage.conf');
  writeFileSync(storage, ['[storage]', 'driver="vfs"', `runroot="${join(dir, 'run')}"`, `graphroot="${join(dir, 'root')}"`, ''].join('\n'));
  const registries = join(dir, 'registries.conf');
  writeFileSync(registries, ['unqualified-search-registries=[]', ...o.insecureRegistries.flatMap((r) => ['[[registry]]', `location="${r}"`, 'insecure=true'])].join('\n') + '\n');
  const env = { ...process.env, CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, CONTAINERS_REGISTRIES_CONF: registries };
  const sockDir = join(dir, 'sock');
  mkdirSync(sockDir, { mode: 0o755 });
  const socketPath = join(sockDir, 'podman.sock');
  const base = ['--tmpdir', join(dir, 'tmp')];
  const child: ChildProcess = spawn(PODMAN, [...base, 'system', 'service', '--time=0', `unix://${socketPath}`], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const podman = (args: string[]) => execFileSync(PODMAN, [...base, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    live.delete(engine);
    // Containers outlive the service (conmon is their parent): remove them first.
    try {
      podman(['rm', '--all', '--force', '--time', '0']);
    } catch {
      /* nothing to remove, or the service never came up */
    }
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 3000);
      await exited;
      clearTimeout(t);
    }
    // conmon and `podman container cleanup` (started by conmon as a container exits) may still
    // be writing into the storage: end the ones of this instance (their command lines name its
    // folder), then remove it, retried as rm -rf would be run again.
    killProcessesUsing(dir);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
  const engine: PodmanEngine = {
    dir,
    socketPath,
    podman,
    containers: () =>
      (JSON.parse(podman(['ps', '--all', '--format', 'json'])) as { Names: string[]; State: string; Labels: Record<string, string> | null }[]).map((c) => ({
        name: c.Names[0] ?? '',
        state: c.State,
        labels: c.Labels ?? {},
      })),
    close,
  };
  live.add(engine);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const e of live) {
        try {
          e.podman(['rm', '--all', '--force', '--time', '0']);
        } catch {
          /* best effort */
        }
        rmSync(e.dir, { recursive: true, force: true });
      }
    });
  }
  const deadline = Date.now() + 20_000;
  while (!existsSync(socketPath)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`podman system service did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (o.socketOwner) {
    const uid = Number(execFileSync('id', ['-u', o.socketOwner], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', o.socketOwner], { encoding: 'utf8' }).trim());
    chownSync(socketPath, uid, gid);
  }
  return engine;
}

/** SIGKILL every process whose command line names `dir` (by pid; only this instance's own). */
function killProcessesUsing(dir: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (!cmdline.includes(dir)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Images

/** A ustar archive of regular files and symlinks (what a layer needs here). */
export function tar(entries: { path: string; data?: Buffer; mode?: number; symlink?: string; dir?: boolean }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    const field = (off: number, len: number, s: string) => h.write(s, off, len, 'utf8');
    const octal = (off: number, len: number, n: number) => field(off, len, n.toString(8).padStart(len - 1, '0') + '\0');
    const size = e.data?.length ?? 0;
    field(0, 100, e.path);
    octal(100, 8, e.mode ?? (e.dir ? 0o755 : 0o644));
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, e.symlink || e.dir ? 0 : size);
    octal(136, 12, 1700000000);
    h.fill(' ', 148, 156);
    field(156, 1, e.symlink ? '2' : e.dir ? '5' : '0');
    if (e.symlink) field(157, 100, e.symlink);
    field(257, 6, 'ustar\0');
    field(263, 2, '00');
    let sum = 0;
    for (const b of h) sum += b;
    field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    blocks.push(h);
    if (e.data && !e.symlink && !e.dir) {
      blocks.push(e.data);
      const pad = (512 - (size % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface ModelImageSpec {
  /** The container's command, run by busybox: `['sleep', '3600']`. */
  entrypoint: string[];
  labels?: Record<string, string>;
  /** Extra bytes of incompressible data in a second layer (a model's weights). */
  weightsBytes?: number;
}

/**
 * A runnable image: layer 1 is Debian's static busybox as /bin/busybox (and /bin/sh), optional
 * layer 2 a weights file; an OCI config with the entrypoint and labels; pushed by the registry
 * API. Returns the manifest digest.
 */
export async function pushModelImage(push: Pusher, repo: string, tag: string, spec: ModelImageSpec): Promise<{ digest: string; sizeBytes: number }> {
  const { readFileSync } = await import('node:fs');
  const { randomBytes } = await import('node:crypto');
  const busybox = readFileSync(BUSYBOX_STATIC);
  const layerTars = [
    tar([
      { path: 'bin/', dir: true },
      { path: 'bin/busybox', data: busybox, mode: 0o755 },
      { path: 'bin/sh', symlink: 'busybox' },
      { path: 'tmp/', dir: true, mode: 0o1777 },
    ]),
  ];
  if (spec.weightsBytes) layerTars.push(tar([{ path: 'models/', dir: true }, { path: 'models/weights.bin', data: randomBytes(spec.weightsBytes) }]));
  const layers = [];
  for (const t of layerTars) {
    const gz = gzipSync(t, { level: 1 });
    const blob = await push.blob(repo, gz);
    layers.push({ ...blob, diffId: sha256(t) });
  }
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-05-01T12:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: ['/bin/busybox', ...spec.entrypoint], Env: ['PATH=/bin'], Labels: spec.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-05-01T12:00:00Z', created_by: 'edgefleet test harness' })),
    }),
  );
  const c = await push.blob(repo, config);
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    }),
  );
  const digest = await push.manifest(repo, tag, mediaType, body);
  return { digest, sizeBytes: c.size + layers.reduce((s, l) => s + l.size, 0) };
}
