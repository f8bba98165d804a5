import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Server } from './s3Server.js';
import { verifySigV4, type Credentials } from './sigv4.js';
import { validateRequest, ValidationError } from './ssmShapes.js';

/**
 * A local AWS Systems Manager endpoint for tests: SSM's JSON 1.1 protocol (`POST /`,
 * `X-Amz-Target: AmazonSSM.<Op>`, `application/x-amz-json-1.1`), every request's SigV4
 * signature checked against the test credentials and its body against SSM's API shapes, and
 * Run Command carried out on local "instances": each command's script runs under /bin/sh in the
 * instance's folder (a fixture root), as the SSM agent's aws:runShellScript plugin runs it.
 *
 * It reproduces what makes the real service awkward: an invocation is invisible for a moment
 * after SendCommand (InvocationDoesNotExist), stays Pending then InProgress for a while, bursts
 * are throttled (ThrottlingException), GetCommandInvocation keeps only the first 24,000
 * characters of stdout (ListCommandInvocations 2,500), an agent that lost its connection never
 * picks a command up (Pending until the delivery timeout), and executionTimeout kills a script.
 */
export type PingStatus = 'Online' | 'ConnectionLost' | 'Inactive';

export interface SsmInstance {
  /** `mi-` + 17 hex digits for a hybrid managed instance. */
  id: string;
  /** The instance's folder: the script's working directory (a fixture root). */
  root: string;
  pingStatus?: PingStatus;
  /** What DescribeInstanceInformation reports (defaults: 3.3.1142.0, Ubuntu 22.04, last ping 5 s ago when Online, else an hour). */
  agentVersion?: string;
  platformName?: string;
  platformVersion?: string;
  lastPingUnixSeconds?: number;
  /** The agent's environment for the scripts it runs (default: this process's). */
  env?: Record<string, string>;
}

export interface SsmServerOptions {
  instances: SsmInstance[];
  credentials?: Credentials;
  region?: string;
  /** How long an invocation does not exist after SendCommand (default 300 ms). */
  visibilityDelayMs?: number;
  /** How long it stays Pending before the agent starts it (default 100 ms). */
  pendingMs?: number;
  /** The earliest an invocation reports a terminal status after SendCommand, however fast its script (default 0). */
  answerAfterMs?: number;
  /** Token bucket over all operations: `burst` requests at once, refilled at `perSecond`; absent: no throttling. */
  throttle?: { burst: number; perSecond: number };
  /** Parameter Store: name → value and type. */
  parameters?: Record<string, { value: string; type?: 'String' | 'SecureString' }>;
  /** Scripts run at once (the machine's cores are shared). */
  runConcurrency?: number;
  /**
   * Where OutputS3BucketName sends output: when a command names a bucket this server has, the
   * agent writes the script's whole stdout and stderr there as it ends, at
   * `PREFIX/COMMAND/INSTANCE/awsrunShellScript/0.awsrunShellScript/stdout` (the layout the agent
   * uses), and GetCommandInvocation's StandardOutputUrl points at it.
   */
  s3?: S3Server;
}

export interface SsmServer {
  url: string;
  region: string;
  credentials: Credentials;
  /** AWS SDK environment that reaches this server (endpoint, region, credentials). */
  env: Record<string, string>;
  /** Requests per operation, throttled ones included. */
  calls: Map<string, number>;
  totalCalls(): number;
  /** Requests refused for a bad signature or shape: a test expects none from edgefleet. */
  rejected: { op: string; type: string; message: string }[];
  /** Requests answered with ThrottlingException. */
  throttled(): number;
  setPingStatus(id: string, status: PingStatus): void;
  /** The scripts sent to an instance, in order. */
  scripts(id: string): string[];
  close(): Promise<void>;
}

export const TEST_CREDENTIALS: Credentials = { accessKeyId: 'AKIAEDGEFLEETTEST000', secretAccessKey: 'edgefleet/test/secret+key/0123456789abcdef' };

const STDOUT_GET_LIMIT = 24_000;
const STDOUT_LIST_LIMIT = 2_500;
const STDERR_GET_LIMIT = 8_000;
const CAPTURE_LIMIT = 1 << 20;
const BODY_LIMIT = 1 << 20;
const PLUGIN = 'aws:runShellScript';

interface Invocation {
  commandId: string;
  instance: SsmInstance;
  sentMs: number;
  deliveryTimeoutMs: number;
  script: string;
  comment: string;
  /** OutputS3BucketName / OutputS3KeyPrefix of its command. */
  s3?: { bucket: string; prefix: string };
  result?: { status: 'Success' | 'Failed' | 'TimedOut' | 'Cancelled'; details: string; code: number; stdout: string; stderr: string; endMs: number };
  kill?: () => void;
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export async function startSsmServer(o: SsmServerOptions): Promise<SsmServer> {
  const creds = o.credentials ?? TEST_CREDENTIALS;
  const region = o.region ?? 'ap-northeast-2';
  const instances = new Map(o.instances.map((i) => [i.id, { pingStatus: 'Online' as PingStatus, ...i }]));
  const invocations = new Map<string, Invocation[]>();
  const calls = new Map<string, number>();
  const rejected: SsmServer['rejected'] = [];
  let throttledCount = 0;
  const bucket = { tokens: o.throttle?.burst ?? 0, at: Date.now() };
  const runQueue: (() => void)[] = [];
  let running = 0;
  const children = new Set<() => void>();

  const takeToken = (): boolean => {
    if (!o.throttle) return true;
    const now = Date.now();
    bucket.tokens = Math.min(o.throttle.burst, bucket.tokens + ((now - bucket.at) / 1000) * o.throttle.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };

  function schedule(inv: Invocation, executionTimeoutMs: number): void {
    const start = () => {
      running++;
      const child = spawn('/bin/sh', ['-c', inv.script], { cwd: inv.instance.root, stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(inv.instance.env ? { env: inv.instance.env } : {}) });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => void (stdout.length < CAPTURE_LIMIT && (stdout += b.toString('utf8'))));
      child.stderr.on('data', (b: Buffer) => void (stderr.length < CAPTURE_LIMIT && (stderr += b.toString('utf8'))));
      let ending: 'TimedOut' | 'Cancelled' | undefined;
      const kill = (why: 'TimedOut' | 'Cancelled') => {
        ending ??= why;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      };
      inv.kill = () => kill('Cancelled');
      const killer = () => kill('Cancelled');
      children.add(killer);
      const timer = setTimeout(() => kill('TimedOut'), executionTimeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        children.delete(killer);
        running--;
        runQueue.shift()?.();
        const endMs = Date.now();
        if (ending === 'TimedOut') inv.result = { status: 'TimedOut', details: 'ExecutionTimedOut', code: -1, stdout, stderr, endMs };
        else if (ending === 'Cancelled') inv.result = { status: 'Cancelled', details: 'Cancelled', code: -1, stdout, stderr, endMs };
        else inv.result = { status: code === 0 ? 'Success' : 'Failed', details: code === 0 ? 'Success' : 'Failed', code: code ?? -1, stdout, stderr, endMs };
        // The agent uploads the plugin's output files to the command's bucket, uncut.
        if (inv.s3 && o.s3?.has(inv.s3.bucket)) {
          if (stdout) o.s3.put(inv.s3.bucket, s3Key(inv, 'stdout'), stdout);
          if (stderr) o.s3.put(inv.s3.bucket, s3Key(inv, 'stderr'), stderr);
        }
      });
    };
    const pending = o.pendingMs ?? 100;
    setTimeout(() => {
      if (inv.result) return; // cancelled while pending
      if (running < (o.runConcurrency ?? 4)) start();
      else runQueue.push(start);
    }, pending).unref();
  }

  /** What the service reports for an invocation now, or undefined while it is not yet visible. */
  function view(inv: Invocation, now = Date.now()) {
    if (now < inv.sentMs + (o.visibilityDelayMs ?? 300)) return undefined;
    const r = inv.result;
    if (r?.status === 'Cancelled' || (r && now >= Math.max(r.endMs, inv.sentMs + (o.answerAfterMs ?? 0)))) return { status: r.status, details: r.details, r };
    if (inv.instance.pingStatus !== 'Online' && !r) {
      if (now > inv.sentMs + inv.deliveryTimeoutMs) return { status: 'TimedOut', details: 'DeliveryTimedOut', r: undefined };
      return { status: 'Pending', details: 'Pending', r: undefined };
    }
    if (now < inv.sentMs + (o.pendingMs ?? 100)) return { status: 'Pending', details: 'Pending', r: undefined };
    return { status: 'InProgress', details: 'InProgress', r: undefined };
  }

  const iso = (ms: number) => new Date(ms).toISOString();
  const s3Key = (inv: Invocation, file: 'stdout' | 'stderr') =>
    [inv.s3!.prefix, inv.commandId, inv.instance.id, 'awsrunShellScript', '0.awsrunShellScript', file].filter(Boolean).join('/');
  const s3Url = (inv: Invocation, file: 'stdout' | 'stderr') => (inv.s3 ? `https://s3.${region}.amazonaws.com/${inv.s3.bucket}/${s3Key(inv, file)}` : '');

  const ops: Record<string, (b: any) => unknown> = {
    SendCommand(b) {
      if (b.DocumentName !== 'AWS-RunShellScript') throw new ApiError('InvalidDocument', `document ${b.DocumentName} is not served here`);
      const commands: unknown = b.Parameters?.commands;
      if (!Array.isArray(commands) || commands.length === 0) throw new ApiError('InvalidParameters', 'AWS-RunShellScript needs the commands parameter');
      const ids: string[] = b.InstanceIds ?? [];
      if (new Set(ids).size !== ids.length) throw new ApiError('DuplicateInstanceId', 'an instance id appears twice');
      for (const id of ids) if (!instances.has(id)) throw new ApiError('InvalidInstanceId', `Instances [[${id}]] not in a valid state for account`);
      const exec = Number(b.Parameters?.executionTimeout?.[0] ?? 3600);
      if (!Number.isInteger(exec) || exec < 1 || exec > 172800) throw new ApiError('InvalidParameters', `executionTimeout ${b.Parameters.executionTimeout[0]} is not 1 to 172800 seconds`);
      const commandId = randomUUID();
      const sentMs = Date.now();
      const list = ids.map((id) => ({
        commandId, instance: instances.get(id)!, sentMs, deliveryTimeoutMs: (b.TimeoutSeconds ?? 3600) * 1000,
        script: commands.join('\n'), comment: b.Comment ?? '',
        ...(b.OutputS3BucketName ? { s3: { bucket: b.OutputS3BucketName, prefix: b.OutputS3KeyPrefix ?? '' } } : {}),
      }) as Invocation);
      invocations.set(commandId, list);
      for (const inv of list) if (inv.instance.pingStatus === 'Online') schedule(inv, exec * 1000);
      return {
        Command: {
          CommandId: commandId, DocumentName: b.DocumentName, DocumentVersion: '$DEFAULT', Comment: b.Comment ?? '',
          Parameters: b.Parameters, InstanceIds: ids, Targets: [], RequestedDateTime: sentMs / 1000, Status: 'Pending',
          StatusDetails: 'Pending', TargetCount: ids.length, CompletedCount: 0, ErrorCount: 0, DeliveryTimedOutCount: 0,
          TimeoutSeconds: b.TimeoutSeconds ?? 3600, MaxConcurrency: b.MaxConcurrency ?? '50', MaxErrors: b.MaxErrors ?? '0',
        },
      };
    },
    GetCommandInvocation(b) {
      const inv = invocations.get(b.CommandId)?.find((i) => i.instance.id === b.InstanceId);
      const v = inv && view(inv);
      if (!inv || !v) throw new ApiError('InvocationDoesNotExist', 'The command ID and instance ID you specified did not match any invocations.');
      if (b.PluginName !== undefined && b.PluginName !== PLUGIN) throw new ApiError('InvalidPluginName', `no plugin ${b.PluginName}`);
      const done = v.r !== undefined;
      return {
        CommandId: inv.commandId, InstanceId: inv.instance.id, Comment: inv.comment, DocumentName: 'AWS-RunShellScript', DocumentVersion: '$DEFAULT',
        PluginName: PLUGIN, ResponseCode: done ? v.r!.code : -1, Status: v.status, StatusDetails: v.details,
        ExecutionStartDateTime: iso(inv.sentMs), ExecutionEndDateTime: done ? iso(v.r!.endMs) : '',
        StandardOutputContent: done ? v.r!.stdout.slice(0, STDOUT_GET_LIMIT) : '', StandardOutputUrl: s3Url(inv, 'stdout'),
        StandardErrorContent: done ? v.r!.stderr.slice(0, STDERR_GET_LIMIT) : '', StandardErrorUrl: s3Url(inv, 'stderr'),
      };
    },
    ListCommandInvocations(b) {
      if (b.CommandId === undefined) throw new ApiError('InvalidParameters', 'this server lists invocations by CommandId only');
      const all = (invocations.get(b.CommandId) ?? []).filter((i) => (b.InstanceId === undefined || i.instance.id === b.InstanceId));
      const now = Date.now();
      const visible = all.flatMap((inv) => {
        const v = view(inv, now);
        return v ? [{ inv, v }] : [];
      });
      const start = b.NextToken === undefined ? 0 : Number(b.NextToken);
      if (!Number.isInteger(start) || start < 0) throw new ApiError('InvalidNextToken', 'bad NextToken');
      const size = b.MaxResults ?? 50;
      const page = visible.slice(start, start + size);
      return {
        CommandInvocations: page.map(({ inv, v }) => ({
          CommandId: inv.commandId, InstanceId: inv.instance.id, InstanceName: inv.instance.id, Comment: inv.comment,
          DocumentName: 'AWS-RunShellScript', DocumentVersion: '$DEFAULT', RequestedDateTime: inv.sentMs / 1000,
          Status: v.status, StatusDetails: v.details,
          ...(b.Details
            ? {
                CommandPlugins: [{
                  Name: PLUGIN, Status: v.status, StatusDetails: v.details, ResponseCode: v.r?.code ?? -1,
                  Output: v.r ? v.r.stdout.slice(0, STDOUT_LIST_LIMIT) : '',
                }],
              }
            : {}),
        })),
        ...(start + size < visible.length ? { NextToken: String(start + size) } : {}),
      };
    },
    CancelCommand(b) {
      const list = invocations.get(b.CommandId);
      if (!list) throw new ApiError('InvalidCommandId', `no command ${b.CommandId}`);
      for (const inv of list) {
        if (b.InstanceIds && !b.InstanceIds.includes(inv.instance.id)) continue;
        if (inv.result) continue;
        if (inv.kill) inv.kill();
        else inv.result = { status: 'Cancelled', details: 'Cancelled', code: -1, stdout: '', stderr: '', endMs: Date.now() };
      }
      return {};
    },
    DescribeInstanceInformation(b) {
      let wanted: string[] | undefined;
      for (const f of b.Filters ?? []) if (f.Key === 'InstanceIds') wanted = f.Values;
      for (const f of b.InstanceInformationFilterList ?? []) if (f.key === 'InstanceIds') wanted = f.valueSet;
      const list = [...instances.values()].filter((i) => !wanted || wanted.includes(i.id));
      const start = b.NextToken === undefined ? 0 : Number(b.NextToken);
      const size = b.MaxResults ?? 10;
      return {
        InstanceInformationList: list.slice(start, start + size).map((i) => ({
          InstanceId: i.id, PingStatus: i.pingStatus, LastPingDateTime: i.lastPingUnixSeconds ?? Date.now() / 1000 - (i.pingStatus === 'Online' ? 5 : 3600),
          AgentVersion: i.agentVersion ?? '3.3.1142.0', IsLatestVersion: true, PlatformType: 'Linux', PlatformName: i.platformName ?? 'Ubuntu',
          PlatformVersion: i.platformVersion ?? '22.04', ResourceType: 'ManagedInstance', Name: i.id, ComputerName: i.id, IPAddress: '10.0.0.1',
        })),
        ...(start + size < list.length ? { NextToken: String(start + size) } : {}),
      };
    },
    GetParameter(b) {
      return { Parameter: parameter(b.Name, b.WithDecryption === true) };
    },
    GetParameters(b) {
      const known = (b.Names as string[]).filter((n) => o.parameters?.[n]);
      return { Parameters: known.map((n) => parameter(n, b.WithDecryption === true)), InvalidParameters: b.Names.filter((n: string) => !o.parameters?.[n]) };
    },
  };

  function parameter(name: string, decrypt: boolean) {
    const p = o.parameters?.[name];
    if (!p) throw new ApiError('ParameterNotFound', `parameter ${name} not found`);
    const type = p.type ?? 'String';
    // Without decryption a SecureString comes back as its ciphertext.
    const value = type === 'SecureString' && !decrypt ? Buffer.from(`kms-ciphertext:${name}`).toString('base64') : p.value;
    return { Name: name, Type: type, Value: value, Version: 1, ARN: `arn:aws:ssm:${region}:123456789012:parameter${name}`, DataType: 'text', LastModifiedDate: Date.now() / 1000 };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith('AmazonSSM.') ? target.slice('AmazonSSM.'.length) : '';
    const send = (status: number, body: unknown, type?: string) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), ...(type ? { 'x-amzn-errortype': type } : {}) });
      res.end(text);
    };
    const fail = (e: ApiError) => {
      if (e.type !== 'ThrottlingException' && e.status !== 400) rejected.push({ op, type: e.type, message: e.message });
      send(e.status, { __type: e.type, message: e.message }, e.type);
    };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > BODY_LIMIT) return fail(new ApiError('SerializationException', 'request body over 1 MiB', 413));
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    calls.set(op || target, (calls.get(op || target) ?? 0) + 1);
    const badSig = verifySigV4({ method: req.method ?? '', url: req.url ?? '/', headers: req.headers, body }, creds, 'ssm');
    if (badSig) {
      rejected.push({ op, type: 'InvalidSignatureException', message: badSig });
      return send(403, { __type: 'InvalidSignatureException', message: badSig }, 'InvalidSignatureException');
    }
    if (req.method !== 'POST' || req.url !== '/') return fail(new ApiError('UnknownOperationException', `${req.method} ${req.url}`, 404));
    if (req.headers['content-type'] !== 'application/x-amz-json-1.1') return fail(new ApiError('SerializationException', `content-type ${req.headers['content-type']}`, 415));
    const handler = ops[op];
    if (!handler) return fail(new ApiError('UnknownOperationException', `operation ${target} is not served here`, 404));
    if (!takeToken()) {
      throttledCount++;
      return fail(new ApiError('ThrottlingException', 'Rate exceeded'));
    }
    let input: unknown;
    try {
      input = JSON.parse(body.toString('utf8') || '{}');
      validateRequest(op, input);
    } catch (e) {
      const message = (e as Error).message;
      rejected.push({ op, type: 'ValidationException', message });
      return send(400, { __type: 'ValidationException', message }, 'ValidationException');
    }
    try {
      send(200, handler(input));
    } catch (e) {
      if (e instanceof ApiError) return fail(e);
      if (e instanceof ValidationError) return fail(new ApiError('ValidationException', e.message));
      send(500, { __type: 'InternalServerError', message: (e as Error).message }, 'InternalServerError');
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    region,
    credentials: creds,
    env: {
      AWS_ENDPOINT_URL_SSM: url,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    calls,
    totalCalls: () => [...calls.values()].reduce((a, b) => a + b, 0),
    rejected,
    throttled: () => throttledCount,
    setPingStatus(id, status) {
      const i = instances.get(id);
      if (!i) throw new Error(`no instance ${id}`);
      i.pingStatus = status;
    },
    scripts: (id) => [...invocations.values()].flat().filter((i) => i.instance.id === id).map((i) => i.script),
    async close() {
      for (const k of children) k();
      runQueue.length = 0;
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A hybrid managed instance id, `mi-` and 17 hex digits, from a number. */
export function managedInstanceId(n: number): string {
  return `mi-${n.toString(16).padStart(17, '0')}`;
}
