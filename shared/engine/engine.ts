import { Agent, type AgentOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import type { Transport } from '../transport/transport.js';

/** Docker's default; Podman's rootful API service listens on /run/podman/podman.sock. */
export const DEFAULT_ENGINE_SOCKET = '/var/run/docker.sock';

/**
 * `unreachable`: no tunnel to the engine's socket; `not-found`: no such image, tag or
 * container (the engine's 404); `engine`: the engine refused or failed (its message kept).
 */
export type EngineErrorKind = 'unreachable' | 'not-found' | 'engine' | 'timeout';

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

/** `X-Registry-Auth`: what the engine sends the registry when it pulls. */
export interface RegistryAuth {
  username: string;
  password: string;
  /** `registry.lab:5000`. */
  serveraddress: string;
}

/** Pull progress: what the engine's JSON stream said, summed over layers. */
export interface PullProgress {
  /** 0–100 over the layers whose size the engine reported; undefined until one is. */
  percent?: number;
  /** Bytes downloaded of `totalBytes`, over those layers. */
  bytes: number;
  totalBytes: number;
  /** The last status line (`Downloading`, `Pull complete`, `Copying blob …`). */
  status: string;
}

/** One container as `GET /containers/json` lists it. */
export interface EngineContainer {
  id: string;
  name: string;
  image: string;
  /** `running`, `exited`, `created`, … */
  state: string;
  status: string;
  labels: Record<string, string>;
  createdUnixSeconds: number;
}

/** What `GET /containers/{id}/json` says about a container's health. */
export interface ContainerState {
  running: boolean;
  restarting: boolean;
  status: string;
  exitCode: number;
  restartCount: number;
  error: string;
  startedAt: string;
}

/**
 * An HTTP agent whose every connection is a fresh stream to the engine's unix socket, opened
 * by the node's transport (an SSH channel, or the hub's own socket). ssh2's channels are
 * Duplex streams without a socket's knobs: the few http calls on them are stubbed.
 */
function tunnelAgent(transport: Transport, socketPath: string): Agent {
  const agent = new Agent({ keepAlive: false } satisfies AgentOptions);
  (agent as unknown as { createConnection: unknown }).createConnection = (_opts: unknown, oncreate: (err: Error | null, socket?: Duplex) => void) => {
    if (!transport.openStreamLocal) {
      oncreate(new EngineError('unreachable', 'this node’s connection cannot reach a container engine'));
      return undefined;
    }
    transport.openStreamLocal(socketPath).then(
      (stream) => {
        const s = stream as Duplex & Record<string, unknown>;
        for (const m of ['setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref']) if (typeof s[m] !== 'function') s[m] = () => s;
        oncreate(null, stream);
      },
      (e: unknown) => oncreate(new EngineError('unreachable', `cannot reach the container engine at ${socketPath}: ${(e as Error).message}`, { cause: e })),
    );
    return undefined;
  };
  return agent;
}

/** The engine's own words from a dockerode error (`{"message": …}` of the response). */
export function engineMessage(e: unknown): string {
  const err = e as { json?: { message?: string; cause?: string } | string | null; reason?: string; message?: string; statusCode?: number };
  if (err.json && typeof err.json === 'object' && err.json.message) return err.json.message;
  if (typeof err.json === 'string' && err.json.trim()) return err.json.trim();
  return err.message ?? String(e);
}

function wrap(what: string, e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  const status = (e as { statusCode?: number }).statusCode;
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof EngineError) return cause;
  const kind: EngineErrorKind = status === 404 ? 'not-found' : status === undefined ? 'unreachable' : 'engine';
  return new EngineError(kind, `${what}: ${engineMessage(e)}`, { cause: e });
}

/**
 * A node's container engine through the Docker Engine API (dockerode): Docker, or Podman's
 * Docker-compatible service. Names follow the API: pull, createContainer, start, inspect, stop,
 * remove, listContainers.
 */
export class Engine {
  readonly docker: Docker;

  constructor(
    transport: Transport,
    readonly socketPath: string = DEFAULT_ENGINE_SOCKET,
    private readonly timeoutMs = 60_000,
  ) {
    this.docker = new Docker({ protocol: 'http', host: 'engine', port: 80, agent: tunnelAgent(transport, socketPath) } as Docker.DockerOptions);
  }

  /** `GET /_ping`. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (e) {
      throw wrap(`engine at ${this.socketPath}`, e);
    }
  }

  /**
   * `POST /images/create?fromImage=…`: download an image, reporting progress from the engine's
   * JSON stream. An `error` line in the stream (the registry's refusal, as the engine relays it)
   * fails the pull with that message.
   */
  async pull(image: string, o: { auth?: RegistryAuth; onProgress?: (p: PullProgress) => void; timeoutMs: number }): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.pull(image, o.auth ? { authconfig: o.auth } : {})) as NodeJS.ReadableStream;
    } catch (e) {
      throw wrap(`pull ${image}`, e);
    }
    const layers = new Map<string, { current: number; total: number }>();
    let lastError: string | undefined;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        (stream as unknown as Duplex).destroy?.();
        reject(new EngineError('timeout', `pull ${image}: no end after ${o.timeoutMs} ms`));
      }, o.timeoutMs);
      let buf = '';
      const line = (text: string) => {
        let msg: { status?: string; id?: string; error?: string; errorDetail?: { message?: string }; progressDetail?: { current?: number; total?: number }; progress?: string };
        try {
          msg = JSON.parse(text) as typeof msg;
        } catch {
          return;
        }
        if (msg.error || msg.errorDetail?.message) {
          lastError = msg.errorDetail?.message ?? msg.error;
          return;
        }
        const status = msg.status ?? '';
        const d = msg.progressDetail;
        if (msg.id && d && typeof d.total === 'number' && d.total > 0) layers.set(msg.id, { current: Math.min(d.current ?? 0, d.total), total: d.total });
        if (msg.id && /^(Download complete|Pull complete|Already exists)/.test(status)) {
          const l = layers.get(msg.id);
          if (l) l.current = l.total;
        }
        const totalBytes = [...layers.values()].reduce((s, l) => s + l.total, 0);
        const bytes = [...layers.values()].reduce((s, l) => s + l.current, 0);
        o.onProgress?.({ bytes, totalBytes, status, ...(totalBytes > 0 ? { percent: (100 * bytes) / totalBytes } : {}) });
      };
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (l) line(l);
        }
      });
      stream.on('error', (e: Error) => {
        clearTimeout(timer);
        reject(wrap(`pull ${image}`, e));
      });
      stream.on('end', () => {
        clearTimeout(timer);
        if (buf.trim()) line(buf.trim());
        if (lastError !== undefined) reject(new EngineError('engine', `pull ${image}: ${lastError}`));
        else resolve();
      });
    });
  }

  /** `POST /containers/create?name=…`: the container's id. */
  async createContainer(spec: Docker.ContainerCreateOptions): Promise<string> {
    try {
      const c = await this.docker.createContainer(spec);
      return c.id;
    } catch (e) {
      throw wrap(`create container ${spec.name ?? ''}`.trim(), e);
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 304) return; // already started
      throw wrap(`start ${id.slice(0, 12)}`, e);
    }
  }

  async inspect(id: string): Promise<ContainerState & { name: string; labels: Record<string, string> }> {
    try {
      const c = await this.docker.getContainer(id).inspect();
      const s = c.State;
      return {
        name: c.Name.replace(/^\//, ''),
        labels: c.Config?.Labels ?? {},
        running: s.Running,
        restarting: s.Restarting,
        status: s.Status,
        exitCode: s.ExitCode,
        restartCount: c.RestartCount ?? 0,
        error: s.Error ?? '',
        startedAt: s.StartedAt,
      };
    } catch (e) {
      throw wrap(`inspect ${id.slice(0, 12)}`, e);
    }
  }

  /** The last lines the container wrote (stdout and stderr), for a failure's reason. */
  async logsTail(id: string, lines = 5): Promise<string> {
    try {
      const buf = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf))).trim();
    } catch {
      return '';
    }
  }

  /**
   * `GET /containers/{id}/logs?stdout=1&timestamps=1&since=…`: the container's stdout from
   * `sinceUnixSeconds` on (whole seconds, inclusive: the caller drops what it already has), as
   * the engine sent it (multiplexed frames, or raw with a TTY; see logs.ts). Across the
   * container's restarts: the engine keeps one log per container.
   */
  async logs(id: string, o: { sinceUnixSeconds: number; untilUnixSeconds?: number; timeoutMs?: number }): Promise<Buffer> {
    const timeoutMs = o.timeoutMs ?? this.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const got = this.docker.getContainer(id).logs({
        follow: false,
        stdout: true,
        stderr: false,
        timestamps: true,
        since: Math.max(0, Math.floor(o.sinceUnixSeconds)),
        ...(o.untilUnixSeconds !== undefined ? { until: Math.floor(o.untilUnixSeconds) } : {}),
      }) as unknown as Promise<Buffer | string>;
      const out = await Promise.race([
        got,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new EngineError('timeout', `logs ${id.slice(0, 12)}: no answer after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return Buffer.isBuffer(out) ? out : Buffer.from(String(out), 'utf8');
    } catch (e) {
      throw wrap(`logs ${id.slice(0, 12)}`, e);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      if (status === 304) return; // already stopped
      throw wrap(`stop ${id.slice(0, 12)}`, e);
    }
  }

  async remove(id: string, o: { force?: boolean } = {}): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: o.force ?? false });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return;
      throw wrap(`remove ${id.slice(0, 12)}`, e);
    }
  }

  /** `GET /containers/json?all=true&filters={"label":[…]}`: every container carrying these labels. */
  async listContainers(labels: Record<string, string | undefined>): Promise<EngineContainer[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === undefined ? k : `${k}=${v}`));
    try {
      const list = await this.docker.listContainers({ all: true, filters: JSON.stringify({ label }) });
      return list.map((c) => ({
        id: c.Id,
        name: (c.Names?.[0] ?? '').replace(/^\//, ''),
        image: c.Image,
        state: c.State,
        status: c.Status,
        labels: c.Labels ?? {},
        createdUnixSeconds: c.Created,
      }));
    } catch (e) {
      throw wrap('list containers', e);
    }
  }
}

/** Docker's multiplexed log stream (8-byte frame headers) to text; plain text passes through. */
function demux(buf: Buffer): string {
  if (buf.length < 8 || buf[0]! > 2 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return buf.toString('utf8');
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(out).toString('utf8');
}
