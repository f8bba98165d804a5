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

/** The query of `GET /containers/{id}/logs` that logStream sends: stdout with timestamps, whole seconds, `until` inclusive. */
function logQuery(o: { sinceUnixSeconds: number; untilUnixSeconds?: number }) {
  return {
    follow: false,
    stdout: true,
    stderr: false,
    timestamps: true,
    since: Math.max(0, Math.floor(o.sinceUnixSeconds)),
    ...(o.untilUnixSeconds !== undefined ? { until: Math.floor(o.untilUnixSeconds) } : {}),
  } as const;
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
  /** A pull's answer starts only when it ends (SSM): only the pull timeout applies to it. */
  private readonly answersWhole: boolean;

  constructor(
    transport: Transport,
    readonly socketPath: string = DEFAULT_ENGINE_SOCKET,
    private readonly timeoutMs = 60_000,
  ) {
    this.answersWhole = transport.answersWhole === true;
    this.docker = new Docker({ protocol: 'http', host: 'engine', port: 80, agent: tunnelAgent(transport, socketPath) } as Docker.DockerOptions);
  }

  /**
   * One engine request under a deadline that aborts it: the signal reaches http.request through
   * dockerode, so a wedged engine (a socket that accepts and never answers) costs `timeoutMs`
   * and its channel is destroyed, not left running behind a Promise.race.
   */
  private async call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await fn(signal);
    } catch (e) {
      if (signal.aborted) throw new EngineError('timeout', `${what}: no answer from the engine at ${this.socketPath} within ${timeoutMs} ms`, { cause: e });
      throw wrap(what, e);
    }
  }

  /** `GET /_ping`. */
  async ping(): Promise<void> {
    await this.call(`engine at ${this.socketPath}`, (abortSignal) => (this.docker as unknown as { ping(o: { abortSignal: AbortSignal }): Promise<unknown> }).ping({ abortSignal }));
  }

  /**
   * `POST /images/create?fromImage=…`: download an image, reporting progress from the engine's
   * JSON stream. An `error` line in the stream (the registry's refusal, as the engine relays it)
   * fails the pull with that message.
   */
  async pull(image: string, o: { auth?: RegistryAuth; onProgress?: (p: PullProgress) => void; timeoutMs: number }): Promise<void> {
    // One request, two deadlines that abort it: the engine's answer must start within the engine
    // timeout (a wedged engine fails fast), the whole pull end within the pull timeout.
    const abort = new AbortController();
    const startedMs = Date.now();
    let why = '';
    const firstByteMs = this.answersWhole ? o.timeoutMs : Math.min(this.timeoutMs, o.timeoutMs);
    const firstByte = setTimeout(() => {
      why = `pull ${image}: no answer from the engine at ${this.socketPath} within ${firstByteMs} ms`;
      abort.abort();
    }, firstByteMs);
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.pull(image, { ...(o.auth ? { authconfig: o.auth } : {}), abortSignal: abort.signal })) as NodeJS.ReadableStream;
    } catch (e) {
      if (abort.signal.aborted) throw new EngineError('timeout', why, { cause: e });
      throw wrap(`pull ${image}`, e);
    } finally {
      clearTimeout(firstByte);
    }
    const layers = new Map<string, { current: number; total: number }>();
    let lastError: string | undefined;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        abort.abort();
        (stream as unknown as Duplex).destroy?.();
        reject(new EngineError('timeout', `pull ${image}: no end after ${o.timeoutMs} ms`));
      }, Math.max(0, o.timeoutMs - (Date.now() - startedMs))); // the whole pull, answer included
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
    const c = await this.call(`create container ${spec.name ?? ''}`.trim(), (abortSignal) => this.docker.createContainer({ ...spec, abortSignal } as Docker.ContainerCreateOptions));
    return c.id;
  }

  async start(id: string): Promise<void> {
    await this.call(`start ${id.slice(0, 12)}`, async (abortSignal) => {
      try {
        await this.docker.getContainer(id).start({ abortSignal });
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 304) throw e; // 304: already started
      }
    });
  }

  async inspect(id: string): Promise<ContainerState & { name: string; labels: Record<string, string> }> {
    return this.call(`inspect ${id.slice(0, 12)}`, async (abortSignal) => {
      const c = await this.docker.getContainer(id).inspect({ abortSignal });
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
    });
  }

  /** The last lines the container wrote (stdout and stderr), for a failure's reason. */
  async logsTail(id: string, lines = 5): Promise<string> {
    try {
      const buf = await this.call(`logs ${id.slice(0, 12)}`, (abortSignal) => this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false, abortSignal }) as unknown as Promise<Buffer>);
      return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf))).trim();
    } catch {
      return '';
    }
  }

  /**
   * `GET /containers/{id}/logs` as a stream of chunks, the one reader of container logs (a log
   * may be a backlog too big to hold): stdout with timestamps from `sinceUnixSeconds` (whole
   * seconds, inclusive: the caller drops what it already has) up to `untilUnixSeconds`
   * (inclusive; the end of the log when absent), multiplexed as the engine sends it (or raw with
   * a TTY; see logs.ts), across the container's restarts (the engine keeps one log per
   * container). The answer must start within the engine timeout, and the engine must never keep
   * the reader waiting longer than that for the next chunk; either aborts the request (an
   * EngineError of kind `timeout`). Leaving the loop early (`break`) destroys the request.
   */
  async *logStream(id: string, o: { sinceUnixSeconds: number; untilUnixSeconds?: number }): AsyncGenerator<Buffer> {
    const what = `logs ${id.slice(0, 12)}`;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let stalled = false;
    // Only time spent waiting on the engine counts, not the reader's own work between chunks.
    const arm = () => {
      timer = setTimeout(() => {
        stalled = true;
        abort.abort();
      }, this.timeoutMs);
    };
    const timeout = () => new EngineError('timeout', `${what}: the engine at ${this.socketPath} sent nothing for ${this.timeoutMs} ms`);
    arm();
    let res: NodeJS.ReadableStream & { destroy(e?: Error): void };
    try {
      res = await new Promise((resolve, reject) =>
        this.docker.modem.dial(
          {
            path: `/containers/${encodeURIComponent(id)}/logs?`,
            method: 'GET',
            isStream: true,
            abortSignal: abort.signal,
            statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
            options: logQuery(o),
          } as never,
          (err: unknown, stream: unknown) => (err ? reject(err) : resolve(stream as NodeJS.ReadableStream & { destroy(e?: Error): void })),
        ),
      );
    } catch (e) {
      clearTimeout(timer);
      throw stalled ? timeout() : wrap(what, e);
    }
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        clearTimeout(timer);
        yield chunk;
        arm();
      }
    } catch (e) {
      throw stalled ? timeout() : wrap(what, e);
    } finally {
      clearTimeout(timer);
      res.destroy();
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    // The engine waits up to t seconds before it kills the container: the deadline adds them.
    await this.call(
      `stop ${id.slice(0, 12)}`,
      async (abortSignal) => {
        try {
          await this.docker.getContainer(id).stop({ t: timeoutSeconds, abortSignal });
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode !== 304) throw e; // 304: already stopped
        }
      },
      timeoutSeconds * 1000 + this.timeoutMs,
    );
  }

  async remove(id: string, o: { force?: boolean } = {}): Promise<void> {
    await this.call(`remove ${id.slice(0, 12)}`, async (abortSignal) => {
      try {
        await this.docker.getContainer(id).remove({ force: o.force ?? false, abortSignal });
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 404) throw e; // 404: already gone
      }
    });
  }

  /** `GET /containers/json?all=true&filters={"label":[…]}`: every container carrying these labels. */
  async listContainers(labels: Record<string, string | undefined>): Promise<EngineContainer[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === undefined ? k : `${k}=${v}`));
    const list = await this.call('list containers', (abortSignal) => this.docker.listContainers({ all: true, filters: JSON.stringify({ label }), abortSignal }));
    return list.map((c) => ({
        id: c.Id,
        name: (c.Names?.[0] ?? '').replace(/^\//, ''),
        image: c.Image,
        state: c.State,
        status: c.Status,
        labels: c.Labels ?? {},
        createdUnixSeconds: c.Created,
      }));
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
