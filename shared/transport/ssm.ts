import type { Duplex } from 'node:stream';
import type { CommandInvocation, InstanceInformation, SSMClient } from '@aws-sdk/client-ssm';
import type { SsmAgentInfo } from '../domain/index.js';
import { envelopeCommand, EnvelopeError, isWholeEnvelope, openEnvelope } from './ssmEnvelope.js';
import { httpOverCommand } from './ssmHttp.js';
import { TransportError, type ExecResult, type Transport } from './transport.js';

/**
 * `ansible_connection=aws_ssm`: a node behind NAT that runs the SSM agent (a hybrid managed
 * instance, `mi-…`), reached through AWS Systems Manager Run Command on the real
 * `@aws-sdk/client-ssm`. The SDK's own configuration applies (AWS_REGION, AWS_PROFILE,
 * AWS_ENDPOINT_URL_SSM, credentials from the environment or the profile).
 *
 * Commands are batched: every exec() that arrives within a few milliseconds with the same
 * command text joins one SendCommand of up to 50 instances (SSM's limit), and one
 * ListCommandInvocations per poll follows all of them; GetCommandInvocation is asked only for
 * an output too long for the list's 2,500 characters. A node whose agent is not Online is
 * unreachable at once, without a command.
 */
export interface SsmSettings {
  /** ansible_aws_ssm_region, else ssm.region; undefined: the SDK's chain (AWS_REGION, the profile). */
  region?: string;
  /** ansible_aws_ssm_profile; undefined: the default credential chain. */
  profile?: string;
  /** First poll after SendCommand, then ×1.5 up to pollMaxMs. */
  pollInitialMs?: number;
  pollMaxMs?: number;
  /** One API request's deadline. */
  requestTimeoutMs?: number;
  /**
   * SendCommand's S3 output (OutputS3BucketName, OutputS3KeyPrefix): the agents also write each
   * command's whole stdout there, read when it passes GetCommandInvocation's 24,000 characters.
   */
  outputS3?: { bucket: string; keyPrefix: string };
}

/** SSM's limit on instance ids per SendCommand. */
export const SSM_MAX_INSTANCES_PER_COMMAND = 50;
const GATHER_MS = 10;
const PLUGIN = 'aws:runShellScript';
/** SendCommand's TimeoutSeconds (delivery) cannot go below 30 s. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;
const GET_CONCURRENCY = 16;
const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut', 'Undeliverable', 'Terminated']);

interface Job {
  instanceId: string;
  command: string;
  timeoutMs: number;
  resolve: (r: RawResult) => void;
  reject: (e: Error) => void;
}

/** One node's view of an SsmFleet: exec() joins the fleet's next batch. */
export class SsmTransport implements Transport {
  readonly answersWhole = true;
  constructor(
    private readonly fleet: SsmFleet,
    readonly instanceId: string,
  ) {}

  exec(command: string, opts: { timeoutMs: number }): Promise<ExecResult> {
    return this.fleet.run(this.instanceId, command, opts.timeoutMs);
  }

  /** No socket to tunnel: each engine API request runs as a `curl --unix-socket` on the node (ssmHttp.ts). */
  async openStreamLocal(socketPath: string): Promise<Duplex> {
    return httpOverCommand((command, timeoutMs) => this.fleet.runBytes(this.instanceId, command, timeoutMs), socketPath);
  }

  agentInfo(): SsmAgentInfo | undefined {
    return this.fleet.agentInfo(this.instanceId);
  }

  async close(): Promise<void> {}
}

type Sdk = typeof import('@aws-sdk/client-ssm');
type S3Sdk = typeof import('@aws-sdk/client-s3');
/** An output read from S3 is a compressed probe (tens of KiB): far more than this is not one. */
const MAX_S3_OUTPUT_BYTES = 16 << 20;
/** Loaded on the first SSM node: the SDK costs a CLI that has none ~0.2 s of start-up. */
let sdkLoading: Promise<Sdk> | undefined;
const loadSdk = () => (sdkLoading ??= import('@aws-sdk/client-ssm'));

/** A command's result with its stdout as the node wrote it (bytes: an engine's log stream is binary). */
interface RawResult {
  stdout: Buffer;
  stderr: string;
  code: number | null;
}

/** The instances behind one SSM client (one region and profile), batching their commands. */
export class SsmFleet {
  #client: SSMClient | undefined;
  #sdk: Sdk | undefined;
  #s3: { client: import('@aws-sdk/client-s3').S3Client; sdk: S3Sdk } | undefined;
  readonly #pollInitialMs: number;
  readonly #pollMaxMs: number;
  readonly #requestTimeoutMs: number;
  #queue: Job[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The last DescribeInstanceInformation answer per instance: a cache for display, never the truth. */
  readonly #agents = new Map<string, SsmAgentInfo>();

  constructor(readonly settings: SsmSettings) {
    this.#pollInitialMs = settings.pollInitialMs ?? 500;
    this.#pollMaxMs = settings.pollMaxMs ?? 3000;
    this.#requestTimeoutMs = settings.requestTimeoutMs ?? 10_000;
  }

  async #connect(): Promise<{ client: SSMClient; sdk: Sdk }> {
    const sdk = (this.#sdk ??= await loadSdk());
    this.#client ??= new sdk.SSMClient({
      ...(this.settings.region ? { region: this.settings.region } : {}),
      ...(this.settings.profile ? { profile: this.settings.profile } : {}),
      requestHandler: { connectionTimeout: 5000, requestTimeout: this.#requestTimeoutMs },
    });
    return { client: this.#client, sdk };
  }

  async run(instanceId: string, command: string, timeoutMs: number): Promise<ExecResult> {
    const r = await this.runBytes(instanceId, command, timeoutMs);
    return { stdout: r.stdout.toString('utf8'), stderr: r.stderr, code: r.code };
  }

  runBytes(instanceId: string, command: string, timeoutMs: number): Promise<RawResult> {
    if (this.#closed) return Promise.reject(new TransportError('exec', 'the SSM client is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ instanceId, command, timeoutMs, resolve, reject });
      this.#timer ??= setTimeout(() => this.#flush(), GATHER_MS);
    });
  }

  agentInfo(instanceId: string): SsmAgentInfo | undefined {
    return this.#agents.get(instanceId);
  }

  close(): void {
    this.#closed = true;
    this.#client?.destroy();
    this.#s3?.client.destroy();
  }

  #flush(): void {
    this.#timer = undefined;
    const jobs = this.#queue;
    this.#queue = [];
    const groups = new Map<string, Job[][]>();
    for (const job of jobs) {
      const key = `${job.timeoutMs}\0${job.command}`;
      const batches = groups.get(key) ?? [];
      groups.set(key, batches);
      // SendCommand refuses an instance twice: a second exec for one node goes in another batch.
      let batch = batches.find((b) => b.length < SSM_MAX_INSTANCES_PER_COMMAND && !b.some((j) => j.instanceId === job.instanceId));
      if (!batch) batches.push((batch = []));
      batch.push(job);
    }
    for (const batches of groups.values()) for (const batch of batches) void this.#runBatch(batch);
  }

  async #runBatch(jobs: Job[]): Promise<void> {
    const timeoutMs = jobs[0]!.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const ids = jobs.map((j) => j.instanceId);
    let info: Map<string, InstanceInformation>;
    let c: { client: SSMClient; sdk: Sdk };
    try {
      c = await this.#connect();
      info = await this.#describe(c, ids, deadline);
    } catch (e) {
      return void jobs.forEach((j) => j.reject(apiError(e, 'DescribeInstanceInformation', 'unreachable')));
    }
    for (const [id, i] of info) this.#agents.set(id, agentOf(i));
    const online: Job[] = [];
    for (const job of jobs) {
      const i = info.get(job.instanceId);
      if (!i) job.reject(new TransportError('unreachable', `${job.instanceId} is not a managed instance of SSM${this.#where()}`));
      else if (i.PingStatus !== 'Online') {
        const last = i.LastPingDateTime ? `, last ping ${i.LastPingDateTime.toISOString()}` : '';
        job.reject(new TransportError('unreachable', `SSM agent ${i.PingStatus ?? 'status unknown'}${last}`));
      } else online.push(job);
    }
    if (online.length === 0) return;

    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    let commandId: string;
    try {
      const input = {
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: online.map((j) => j.instanceId),
        Parameters: { commands: [envelopeCommand(online[0]!.command)], executionTimeout: [String(seconds)] },
        TimeoutSeconds: Math.max(MIN_DELIVERY_TIMEOUT_SECONDS, seconds),
        Comment: 'edgefleet',
        ...(this.settings.outputS3 ? { OutputS3BucketName: this.settings.outputS3.bucket, OutputS3KeyPrefix: this.settings.outputS3.keyPrefix } : {}),
      };
      const sent = await this.#call((abortSignal) => c.client.send(new c.sdk.SendCommandCommand(input), { abortSignal }), deadline);
      commandId = sent.Command!.CommandId!;
    } catch (e) {
      return void online.forEach((j) => j.reject(apiError(e, 'SendCommand', 'exec')));
    }

    const pending = new Map(online.map((j) => [j.instanceId, j]));
    const lastStatus = new Map<string, string>();
    const finish = (job: Job, f: () => RawResult) => {
      pending.delete(job.instanceId);
      try {
        job.resolve(f());
      } catch (e) {
        job.reject(e as Error);
      }
    };
    let interval = this.#pollInitialMs;
    try {
      for (;;) {
        await sleep(Math.max(0, Math.min(interval, deadline - Date.now())));
        interval = Math.min(interval * 1.5, this.#pollMaxMs);
        const needOutput: { job: Job; inv: CommandInvocation }[] = [];
        for (const inv of await this.#list(c, commandId, deadline)) {
          const job = pending.get(inv.InstanceId ?? '');
          if (!job || !inv.Status) continue;
          lastStatus.set(job.instanceId, `${inv.Status}${inv.StatusDetails && inv.StatusDetails !== inv.Status ? ` (${inv.StatusDetails})` : ''}`);
          if (!TERMINAL.has(inv.Status)) continue;
          const output = inv.CommandPlugins?.[0]?.Output ?? '';
          if (isWholeEnvelope(output)) finish(job, () => outcome(inv.Status!, inv.StatusDetails, output, '', inv.CommandPlugins?.[0]?.ResponseCode));
          else needOutput.push({ job, inv });
        }
        await eachLimit(needOutput, GET_CONCURRENCY, async ({ job }) => {
          try {
            const got = await this.#call(
              (abortSignal) => c.client.send(new c.sdk.GetCommandInvocationCommand({ CommandId: commandId, InstanceId: job.instanceId, PluginName: PLUGIN }), { abortSignal }),
              deadline,
            );
            let stdoutText = got.StandardOutputContent ?? '';
            if (this.settings.outputS3 && !isWholeEnvelope(stdoutText) && (got.Status === 'Success' || got.Status === 'Failed')) {
              try {
                stdoutText = await this.#readS3Output(commandId, job.instanceId, got.StandardOutputUrl, deadline);
              } catch (e) {
                return finish(job, () => {
                  throw e;
                });
              }
            }
            finish(job, () => outcome(got.Status ?? 'Failed', got.StatusDetails, stdoutText, got.StandardErrorContent ?? '', got.ResponseCode));
          } catch (e) {
            // SSM is eventually consistent: an invocation the list showed may not be readable yet.
            if ((e as Error).name !== 'InvocationDoesNotExist') throw e;
          }
        });
        if (pending.size === 0 || Date.now() >= deadline) break;
      }
    } catch (e) {
      if (!(e instanceof TransportError && e.kind === 'timeout')) {
        for (const job of pending.values()) job.reject(apiError(e, 'polling the command', 'exec'));
        pending.clear();
      }
    }
    if (pending.size === 0) return;
    const left = [...pending.values()];
    for (const job of left) {
      const status = lastStatus.get(job.instanceId);
      const s = Math.round(timeoutMs / 1000);
      if (status?.startsWith('InProgress')) job.reject(new TransportError('timeout', `command still running after ${s} s (SSM status ${status})`));
      else job.reject(new TransportError('unreachable', `the SSM agent did not start the command within ${s} s (SSM status ${status ?? 'not yet visible'})`));
    }
    // Best effort: stop what still runs, so a hung probe does not pile up on the node.
    void this.#call(
      (abortSignal) => c.client.send(new c.sdk.CancelCommandCommand({ CommandId: commandId, InstanceIds: left.map((j) => j.instanceId) }), { abortSignal }),
      Date.now() + this.#requestTimeoutMs,
    ).catch(() => {});
  }

  async #describe(c: { client: SSMClient; sdk: Sdk }, ids: string[], deadline: number): Promise<Map<string, InstanceInformation>> {
    const found = new Map<string, InstanceInformation>();
    let token: string | undefined;
    // Bounded: 50 ids come back in at most a page or two.
    for (let page = 0; page < 10; page++) {
      const input = { Filters: [{ Key: 'InstanceIds', Values: ids }], MaxResults: 50, NextToken: token };
      const r = await this.#call((abortSignal) => c.client.send(new c.sdk.DescribeInstanceInformationCommand(input), { abortSignal }), deadline);
      for (const i of r.InstanceInformationList ?? []) if (i.InstanceId) found.set(i.InstanceId, i);
      token = r.NextToken;
      if (!token) break;
    }
    return found;
  }

  async #list(c: { client: SSMClient; sdk: Sdk }, commandId: string, deadline: number): Promise<CommandInvocation[]> {
    const all: CommandInvocation[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const input = { CommandId: commandId, Details: true, MaxResults: 50, NextToken: token };
      const r = await this.#call((abortSignal) => c.client.send(new c.sdk.ListCommandInvocationsCommand(input), { abortSignal }), deadline);
      all.push(...(r.CommandInvocations ?? []));
      token = r.NextToken;
      if (!token) break;
    }
    return all;
  }

  /**
   * One API call with a deadline that aborts it. Throttling is SSM saying "slower": the SDK
   * retries it a few times itself; past that it is retried here with jittered backoff until
   * the command's deadline, never failing the round for it.
   */
  async #call<T>(send: (abortSignal: AbortSignal) => Promise<T>, deadline: number): Promise<T> {
    let backoffMs = 200;
    for (;;) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) throw new TransportError('timeout', 'SSM deadline passed');
      try {
        return await send(AbortSignal.timeout(Math.min(this.#requestTimeoutMs, leftMs)));
      } catch (e) {
        if (!isThrottling(e) || deadline - Date.now() <= backoffMs) throw e;
        await sleep(backoffMs * (0.5 + Math.random()));
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  /**
   * The command's whole stdout from its S3 output: the key StandardOutputUrl names (else the
   * agent's layout PREFIX/COMMAND/INSTANCE/awsrunShellScript/0.awsrunShellScript/stdout), read
   * bounded. The agent uploads as the command ends, so a key not there yet is asked again.
   */
  async #readS3Output(commandId: string, instanceId: string, url: string | undefined, deadline: number): Promise<string> {
    const { bucket, keyPrefix } = this.settings.outputS3!;
    const key = s3KeyOf(url, bucket) ?? [keyPrefix, commandId, instanceId, 'awsrunShellScript', '0.awsrunShellScript', 'stdout'].filter(Boolean).join('/');
    const where = `s3://${bucket}/${key}`;
    let backoffMs = 200;
    try {
      const s3 = await this.#s3Client();
      for (;;) {
        try {
          const r = await this.#call((abortSignal) => s3.client.send(new s3.sdk.GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }), deadline);
          return await readBounded(r.Body as AsyncIterable<Uint8Array> | undefined, MAX_S3_OUTPUT_BYTES, where);
        } catch (e) {
          if ((e as Error).name !== 'NoSuchKey' || deadline - Date.now() <= backoffMs) throw e;
          await sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 2000);
        }
      }
    } catch (e) {
      if (e instanceof TransportError && e.kind === 'output') throw e;
      const err = e as Error;
      throw new TransportError('output', `output passed SSM's 24,000 characters and its S3 copy ${where} could not be read (${err.name}: ${err.message}); the node's role needs s3:PutObject there, the hub's s3:GetObject`, { cause: e });
    }
  }

  async #s3Client(): Promise<{ client: import('@aws-sdk/client-s3').S3Client; sdk: S3Sdk }> {
    if (this.#s3) return this.#s3;
    const sdk = await import('@aws-sdk/client-s3');
    const client = new sdk.S3Client({
      ...(this.settings.region ? { region: this.settings.region } : {}),
      ...(this.settings.profile ? { profile: this.settings.profile } : {}),
      // The bucket may be in another region than the instances: S3's redirect says which.
      followRegionRedirects: true,
      requestHandler: { connectionTimeout: 5000, requestTimeout: this.#requestTimeoutMs },
    });
    return (this.#s3 ??= { client, sdk });
  }

  #where(): string {
    return this.settings.region ? ` in ${this.settings.region}` : '';
  }
}

/** A terminal invocation as the node's outcome: output only from a whole envelope. */
function outcome(status: string, details: string | undefined, stdoutText: string, stderr: string, responseCode: number | undefined): RawResult {
  const d = (details ?? '').replace(/\s+/g, '');
  if (d === 'Undeliverable' || status === 'Undeliverable') throw new TransportError('unreachable', 'SSM could not deliver the command (agent stopped, instance deregistered, or its role lacks SSM permissions)');
  if (d === 'Terminated' || status === 'Terminated') throw new TransportError('exec', 'SSM terminated the command (it exceeded its MaxErrors)');
  if (d === 'DeliveryTimedOut') throw new TransportError('unreachable', 'SSM delivery timed out: the agent never picked the command up');
  if (status === 'TimedOut') throw new TransportError('timeout', `the command ran past its execution timeout on the node (SSM status ${status}${details ? `, ${details}` : ''})`);
  if (status === 'Cancelled') throw new TransportError('exec', 'the command was cancelled in SSM');
  if (status !== 'Success' && status !== 'Failed') throw new TransportError('exec', `SSM status ${status}${details ? ` (${details})` : ''}`);
  try {
    const { stdout, code } = openEnvelope(stdoutText);
    return { stdout, stderr, code };
  } catch (e) {
    if (!(e instanceof EnvelopeError)) throw e;
    const why = status === 'Failed' ? `the command failed on the node (exit ${responseCode ?? '?'}${stderr ? `: ${stderr.trim().slice(0, 200)}` : ''}); ` : '';
    throw new TransportError('output', `${why}${e.message}`, { cause: e });
  }
}

function agentOf(i: InstanceInformation): SsmAgentInfo {
  const a: SsmAgentInfo = {};
  if (i.AgentVersion) a.agentVersion = i.AgentVersion;
  if (i.PlatformName) a.platformName = i.PlatformName;
  if (i.PlatformVersion) a.platformVersion = i.PlatformVersion;
  if (i.PingStatus) a.pingStatus = i.PingStatus;
  if (i.LastPingDateTime) a.lastPingUnixSeconds = Math.floor(i.LastPingDateTime.getTime() / 1000);
  return a;
}

/** The object key in an S3 URL of `bucket` (path-style `https://s3.REGION.amazonaws.com/BUCKET/KEY` or virtual-hosted `https://BUCKET.s3…/KEY`). */
function s3KeyOf(url: string | undefined, bucket: string): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    const path = decodeURIComponent(u.pathname).replace(/^\//, '');
    if (u.hostname.startsWith(`${bucket}.`)) return path || undefined;
    return path.startsWith(`${bucket}/`) ? path.slice(bucket.length + 1) || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** A response body as text, refused past `maxBytes` (the rest is not read). */
async function readBounded(body: AsyncIterable<Uint8Array> | undefined, maxBytes: number, where: string): Promise<string> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > maxBytes) {
      (body as { destroy?: () => void }).destroy?.();
      throw new TransportError('output', `${where} is over ${maxBytes} bytes: not a probe's output`);
    }
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isThrottling(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } };
  return err?.name === 'ThrottlingException' || err?.$metadata?.httpStatusCode === 429 || err?.$retryable?.throttling === true;
}

function apiError(e: unknown, what: string, kind: 'unreachable' | 'exec'): Error {
  if (e instanceof TransportError) return e;
  const err = e as Error;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return new TransportError('timeout', `SSM ${what} timed out`, { cause: e });
  // No answer from SSM at all (DNS, refused, TLS): the node cannot be reached through it.
  const network = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT/.test(String((err as { code?: string }).code ?? err.message));
  return new TransportError(network ? 'unreachable' : kind, `SSM ${what}: ${err.name}: ${err.message}`, { cause: e });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function eachLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}
