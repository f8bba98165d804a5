/**
 * SSM's S3 output option: with `ssm.outputS3Bucket` every SendCommand names the bucket, the
 * agent writes the whole output there, and an output past GetCommandInvocation's 24,000
 * characters is read from S3 with the real @aws-sdk/client-s3 (GetObject, SigV4 checked by the
 * local S3 server) instead of failing as cut. The expected output is the file the command wrote
 * beside its stdout, not anything the transport returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../shared/config/config.js';
import type { NodeSpec } from '../shared/domain/index.js';
import { TransportError, TransportPool } from '../shared/transport/index.js';
import { startS3Server, type S3Server } from './harness/s3Server.js';
import { managedInstanceId, startSsmServer, type SsmServer } from './harness/ssmServer.js';

const BUCKET = 'edgefleet-ssm-output';
const ID = managedInstanceId(0x53);
const SAVED_ENV = { ...process.env };
/** 60,000 random bytes as od's hex: about 180 KB of text, over 24,000 characters even gzipped and in base64. */
const BIG = 'head -c 60000 /dev/urandom | od -An -tx1 | tee big.txt';

let dir: string;
let s3: S3Server;
let ssm: SsmServer;

const node: NodeSpec = { name: 'cam', groups: [], vars: {}, connection: 'ssm', host: ID, port: 22, ssm: { instanceId: ID } };
const poolWith = (outputS3?: { bucket: string; keyPrefix: string }) =>
  new TransportPool({
    knownHostsFile: '', acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'x', connectTimeoutMs: 1000,
    ssmPoll: { pollInitialMs: 100, pollMaxMs: 300 }, ...(outputS3 ? { ssmOutputS3: outputS3 } : {}),
  });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-ssm-s3-'));
  s3 = await startS3Server({ buckets: [BUCKET] });
  ssm = await startSsmServer({ instances: [{ id: ID, root: dir }], s3 });
  Object.assign(process.env, ssm.env, s3.env, { AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') });
  delete process.env.AWS_PROFILE;
});

after(async () => {
  await ssm?.close();
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = SAVED_ENV;
});

describe('SSM output through S3', () => {
  it('collects an output past the 24,000-character cut whole from the bucket', async () => {
    const pool = poolWith({ bucket: BUCKET, keyPrefix: 'edgefleet/out' });
    try {
      const r = await pool.get(node).exec(BIG, { timeoutMs: 20_000 });
      assert.equal(r.code, 0);
      const want = readFileSync(join(dir, 'big.txt'), 'utf8');
      assert.ok(want.length > 150_000);
      assert.equal(r.stdout, want);
      const gets = s3.requests.filter((q) => q.startsWith('GET '));
      assert.equal(gets.length, 1);
      assert.match(gets[0]!, new RegExp(`^GET /${BUCKET}/edgefleet/out/[0-9a-f-]{36}/${ID}/awsrunShellScript/0\\.awsrunShellScript/stdout$`));
      assert.deepEqual(s3.rejected, []);
      assert.deepEqual(ssm.rejected, []);
    } finally {
      await pool.closeAll();
    }
  });

  it('reads a small output from SSM alone, without S3', async () => {
    const pool = poolWith({ bucket: BUCKET, keyPrefix: 'edgefleet/out' });
    const before = s3.requests.length;
    try {
      const r = await pool.get(node).exec('echo small', { timeoutMs: 20_000 });
      assert.equal(r.stdout, 'small\n');
      assert.equal(s3.requests.length, before);
    } finally {
      await pool.closeAll();
    }
  });

  it('without the option, the same output is the node\'s error "output cut", never data', async () => {
    const pool = poolWith();
    try {
      await assert.rejects(pool.get(node).exec(BIG, { timeoutMs: 20_000 }), (e: TransportError) => e.kind === 'output' && /output cut after 24000 characters/.test(e.message));
    } finally {
      await pool.closeAll();
    }
  });

  it('a bucket the agent could not write is an error naming the object and the permissions', async () => {
    const pool = poolWith({ bucket: 'edgefleet-nowhere', keyPrefix: 'p' });
    try {
      await assert.rejects(
        pool.get(node).exec(BIG, { timeoutMs: 20_000 }),
        (e: TransportError) => e.kind === 'output' && /its S3 copy s3:\/\/edgefleet-nowhere\/p\/.+\/stdout could not be read \(NoSuchBucket/.test(e.message) && /s3:PutObject/.test(e.message),
      );
    } finally {
      await pool.closeAll();
    }
  });

  it('ssm.outputS3Bucket must be a bucket name', () => {
    assert.equal(loadConfig({ env: { EDGEFLEET_SSM_OUTPUT_S3_BUCKET: BUCKET }, cwd: dir }).ssm.outputS3Bucket, BUCKET);
    assert.throws(() => loadConfig({ env: { EDGEFLEET_SSM_OUTPUT_S3_BUCKET: 'My_Bucket' }, cwd: dir }), /EDGEFLEET_SSM_OUTPUT_S3_BUCKET.*an S3 bucket name/);
  });
});
