/**
 * The SSM transport on the real @aws-sdk/client-ssm against the local SSM server
 * (test/harness/ssmServer.ts): SigV4 checked, every request validated against SSM's shapes,
 * commands run under /bin/sh on local "instances". Expected outputs come from running the same
 * command with /bin/sh here, not from the transport.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SendCommandCommand, GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SignatureV4 } from '@smithy/signature-v4';
import { TransportError, TransportPool } from '../shared/transport/index.js';
import type { NodeSpec } from '../shared/domain/index.js';
import { managedInstanceId, startSsmServer, TEST_CREDENTIALS, type SsmServer } from './harness/ssmServer.js';
import { verifySigV4 } from './harness/sigv4.js';
import { curlCommand, parseRequest } from '../shared/transport/ssmHttp.js';

const ONLINE = [1, 2, 3].map(managedInstanceId);
const LOST = managedInstanceId(9);
const UNKNOWN = managedInstanceId(0xdead);
const SAVED_ENV = { ...process.env };

let dir: string;
let server: SsmServer;
let pool: TransportPool;

const spec = (instanceId: string): NodeSpec => ({
  name: instanceId, groups: [], vars: {}, connection: 'ssm', host: instanceId, port: 22, ssm: { instanceId },
});
const sh = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8', cwd: dir });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-ssm-'));
  server = await startSsmServer({
    instances: [...ONLINE.map((id) => ({ id, root: dir })), { id: LOST, root: dir, pingStatus: 'ConnectionLost' as const }],
    visibilityDelayMs: 300,
    pendingMs: 100,
  });
  Object.assign(process.env, server.env, { AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') });
  delete process.env.AWS_PROFILE;
  pool = new TransportPool({ knownHostsFile: '', acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'x', connectTimeoutMs: 1000, ssmPoll: { pollInitialMs: 100, pollMaxMs: 300 } });
});

after(async () => {
  await pool.closeAll();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = SAVED_ENV;
});

describe('the local SSM server', () => {
  it('accepts a request the real SDK signer signed, and refuses it tampered or under another secret', async () => {
    const signer = new SignatureV4({ credentials: TEST_CREDENTIALS, region: 'ap-northeast-2', service: 'ssm', sha256: Sha256, applyChecksum: false }); // as SSMClient signs
    const body = JSON.stringify({ Names: ['/a'] });
    const signed = await signer.sign({
      method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 9, path: '/',
      headers: { host: '127.0.0.1:9', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameters' }, body,
    });
    const req = (b: string, headers = signed.headers) => ({ method: 'POST', url: '/', headers: lower(headers), body: Buffer.from(b) });
    assert.equal(verifySigV4(req(body), TEST_CREDENTIALS, 'ssm'), undefined);
    assert.equal(verifySigV4(req(body.replace('/a', '/b')), TEST_CREDENTIALS, 'ssm'), 'signature does not match');
    assert.equal(verifySigV4(req(body, { ...signed.headers, 'x-amz-target': 'AmazonSSM.SendCommand' }), TEST_CREDENTIALS, 'ssm'), 'signature does not match');
    assert.equal(verifySigV4(req(body), { ...TEST_CREDENTIALS, secretAccessKey: 'other' }, 'ssm'), 'signature does not match');
    const late = Date.now() + 16 * 60_000;
    assert.match(verifySigV4(req(body), TEST_CREDENTIALS, 'ssm', late) ?? '', /expired/);
  });

  it('refuses what SSM refuses: 51 instance ids, a missing required member, a bad signature', async () => {
    const client = new SSMClient({});
    const ids = Array.from({ length: 51 }, (_, i) => managedInstanceId(100 + i));
    await assert.rejects(client.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: ids, Parameters: { commands: ['true'] } })), /at most 50 instance ids/);
    await assert.rejects(client.send(new GetCommandInvocationCommand({ CommandId: 'x'.repeat(36) } as never)), /member InstanceId is required/);
    const forged = new SSMClient({ credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' } });
    await assert.rejects(forged.send(new GetCommandInvocationCommand({ CommandId: 'x'.repeat(36), InstanceId: ONLINE[0]! })), { name: 'InvalidSignatureException' });
    client.destroy();
    forged.destroy();
    server.rejected.length = 0;
  });
});

describe('SsmTransport', () => {
  it('runs a command on three instances in one SendCommand, with stdout and exit status as /bin/sh gives them', async () => {
    const before = server.calls.get('SendCommand') ?? 0;
    const cmd = 'printf "a b\\n"; ls -a | head -n 3; exit 3';
    const results = await Promise.all(ONLINE.map((id) => pool.get(spec(id)).exec(cmd, { timeoutMs: 5000 })));
    const want = (() => {
      try {
        return sh(cmd);
      } catch (e) {
        return (e as { stdout: string }).stdout;
      }
    })();
    for (const r of results) assert.deepEqual({ stdout: r.stdout, code: r.code }, { stdout: want, code: 3 });
    assert.equal((server.calls.get('SendCommand') ?? 0) - before, 1);
    assert.deepEqual(server.rejected, []);
  });

  it('collects an output far over 24,000 characters whole (compressed on the node)', async () => {
    const cmd = 'i=0; while [ $i -lt 2000 ]; do echo "mount /dev/sda$i /data/$i ext4 rw 0 0"; i=$((i+1)); done';
    const want = sh(cmd);
    assert.ok(want.length > 80_000);
    const r = await pool.get(spec(ONLINE[0]!)).exec(cmd, { timeoutMs: 5000 });
    assert.equal(r.stdout, want);
  });

  it('reports an output SSM cut at 24,000 characters, never passing it on', async () => {
    // Random bytes do not compress: the envelope overruns the cut.
    await assert.rejects(pool.get(spec(ONLINE[1]!)).exec('head -c 40000 /dev/urandom', { timeoutMs: 5000 }), (e: unknown) => {
      assert.ok(e instanceof TransportError);
      assert.equal(e.kind, 'output');
      assert.match(e.message, /cut after 24000 characters/);
      return true;
    });
  });

  it('marks an instance whose agent lost its connection unreachable at once, sending it nothing', async () => {
    const t0 = Date.now();
    await assert.rejects(pool.get(spec(LOST)).exec('true', { timeoutMs: 5000 }), (e: unknown) => {
      assert.ok(e instanceof TransportError);
      assert.equal(e.kind, 'unreachable');
      assert.match(e.message, /SSM agent ConnectionLost/);
      return true;
    });
    assert.ok(Date.now() - t0 < 1000, 'not the command timeout');
    assert.deepEqual(server.scripts(LOST), []);
  });

  it('says an instance SSM does not know is not a managed instance', async () => {
    await assert.rejects(pool.get(spec(UNKNOWN)).exec('true', { timeoutMs: 5000 }), /is not a managed instance of SSM/);
  });

  it('ends a command that hangs at the timeout, as a timeout', async () => {
    const t0 = Date.now();
    await assert.rejects(pool.get(spec(ONLINE[2]!)).exec('sleep 30', { timeoutMs: 1500 }), (e: unknown) => {
      assert.ok(e instanceof TransportError);
      assert.equal(e.kind, 'timeout');
      return true;
    });
    const took = Date.now() - t0;
    assert.ok(took >= 1400 && took < 2500, `took ${took} ms`);
  });
});

describe('engine requests over SSM (ssmHttp)', () => {
  it('quotes every curl argument and never puts registry credentials into the SSM command', () => {
    const raw = 'POST /v1.41/images/create?fromImage=lab%2Fx&tag=v1 HTTP/1.1\r\nHost: engine\r\nX-Registry-Auth: c2VjcmV0LXBhc3N3b3Jk\r\nContent-Length: 0\r\n\r\n';
    const cmd = curlCommand(parseRequest(Buffer.from(raw))!, "/run/a b's.sock", true);
    assert.ok(!cmd.includes('c2VjcmV0LXBhc3N3b3Jk'), 'the credential left the hub');
    assert.match(cmd, /'--unix-socket' '\/run\/a b'\\''s\.sock'/);
    // The node's shell gives curl exactly these words: checked by running the quoting through sh.
    const words = execFileSync('/bin/sh', ['-c', `set -- ${cmd.split('\n')[1]!.replace(/ <.*$/, '')}; printf '%s\\n' "$@"`], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(words, ['curl', '-sS', '-i', '-H', 'Expect:', '--unix-socket', "/run/a b's.sock", '-X', 'POST', 'http://localhost/v1.41/images/create?fromImage=lab%2Fx&tag=v1']);
  });
});

describe('SsmTransport under throttling', () => {
  let throttled: SsmServer;
  let throttledPool: TransportPool;
  before(async () => {
    throttled = await startSsmServer({ instances: ONLINE.map((id) => ({ id, root: dir })), throttle: { burst: 2, perSecond: 4 }, visibilityDelayMs: 300 });
    process.env.AWS_ENDPOINT_URL_SSM = throttled.url;
    throttledPool = new TransportPool({ knownHostsFile: '', acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'x', connectTimeoutMs: 1000, ssmPoll: { pollInitialMs: 50, pollMaxMs: 100 } });
  });
  after(async () => {
    await throttledPool.closeAll();
    await throttled.close();
    process.env.AWS_ENDPOINT_URL_SSM = server.url;
  });

  it('backs off and still collects every instance', async () => {
    const results = await Promise.all(ONLINE.map((id) => throttledPool.get(spec(id)).exec('echo ok', { timeoutMs: 8000 })));
    assert.deepEqual(results.map((r) => r.stdout), ['ok\n', 'ok\n', 'ok\n']);
    assert.ok(throttled.throttled() > 0, 'the server throttled some requests');
    assert.deepEqual(throttled.rejected, []);
  });
});

/** The checksum constructor the SDK's signer takes (the SDK itself plugs in @smithy/hash-node, the same node:crypto). */
class Sha256 {
  readonly #h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
}

function bytes(d: string | ArrayBuffer | ArrayBufferView): string | Buffer {
  if (typeof d === 'string') return d;
  return ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);
}

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
