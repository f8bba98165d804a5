/**
 * What `serverless package` would put on AWS Lambda, checked as AWS would take it: the zip
 * (unzipped size within Lambda's 250 MB, every native module built for the functions'
 * architecture — or none), the CloudFormation template (no HTTP function past the HTTP API's
 * 30 s, the VPC and the shard fan-out from the params), and the bundle itself run by Node from
 * an empty folder (no node_modules to fall back on): every handler loads.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { parse as parseYaml } from 'yaml';
import { elfMachine, readZip, type ZipEntry } from './harness/zipFile.js';

const ROOT = join(import.meta.dirname, '..');
const SERVERLESS = join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
/** Lambda's limit on a function's code, unzipped (zip plus layers). */
const LAMBDA_UNZIPPED_MAX_BYTES = 250 * 1024 * 1024;
/** API Gateway HTTP API: an integration answers within 30 s. */
const HTTP_API_TIMEOUT_SECONDS = 30;
const SUBNETS = ['subnet-0a1b2c3d4e5f60718', 'subnet-0a1b2c3d4e5f60719'];
const SECURITY_GROUP = 'sg-0a1b2c3d4e5f60710';
const SHARDS = 4;

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
}

let dir: string;
let template: Template;
let entries: ZipEntry[];
const yml = parseYaml(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as {
  provider: { architecture?: string };
  functions: Record<string, { handler: string; events?: Record<string, unknown>[] }>;
};

/** serverless with none of the caller's EDGEFLEET_/AWS_ settings (CI's environment is not the user's). */
function serverless(args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(EDGEFLEET_|AWS_|SLS_|SERVERLESS_)/.test(k)));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SERVERLESS, ...args],
      { cwd: ROOT, env: { ...clean, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...env }, timeout: 180_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

const logicalId = (fn: string) => `${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-lambda-package-'));
  const out = join(dir, 'package');
  const r = await serverless([
    'package', '--package', out,
    '--param', 'db=ssm:/edgefleet/db-url',
    '--param', `collectShards=${SHARDS}`,
    '--param', `subnetIds=${SUBNETS.join(',')}`,
    '--param', `securityGroupIds=${SECURITY_GROUP}`,
  ]);
  assert.equal(r.code, 0, r.output);
  template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  entries = readZip(readFileSync(join(out, 'edgefleet.zip')));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('serverless package: the Lambda artifact', { timeout: 240_000 }, () => {
  it('is within Lambda\'s unzipped limit, and every native module in it is built for the functions\' architecture (there is none)', () => {
    const arch = yml.provider.architecture ?? 'x86_64';
    const unzipped = entries.reduce((n, e) => n + e.uncompressedBytes, 0);
    assert.ok(unzipped < LAMBDA_UNZIPPED_MAX_BYTES, `unzipped ${unzipped} bytes`);
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    assert.equal(functions.length, Object.keys(yml.functions).length);
    for (const f of functions) assert.deepEqual(f.Properties.Architectures ?? ['x86_64'], [arch], f.Properties.FunctionName);
    // Native code by content, whatever the file is called.
    const elf = entries.flatMap((e) => {
      const m = elfMachine(e.data());
      return m ? [{ name: e.name, machine: m }] : [];
    });
    for (const e of elf) assert.equal(e.machine, arch, `${e.name} is built for ${e.machine}, the functions run on ${arch}`);
    assert.deepEqual(entries.filter((e) => e.name.endsWith('.node')).map((e) => e.name), []);
    assert.deepEqual(elf, []);
    assert.ok(!entries.some((e) => /node_modules|better-sqlite3|cpu-features|\.ts$/.test(e.name)), 'no node_modules, native packages or sources');
  });

  it('gives no HTTP function a timeout past the HTTP API\'s 30 s', () => {
    const http = Object.entries(yml.functions).filter(([, f]) => (f.events ?? []).some((e) => 'httpApi' in e || 'http' in e));
    assert.ok(http.length > 5);
    for (const [name] of http) {
      const timeout = template.Resources[logicalId(name)]!.Properties.Timeout as number;
      assert.ok(timeout < HTTP_API_TIMEOUT_SECONDS, `${name}: timeout ${timeout} s`);
    }
    for (const r of Object.values(template.Resources).filter((x) => x.Type === 'AWS::ApiGatewayV2::Integration')) {
      assert.ok((r.Properties.TimeoutInMillis ?? 30_000) <= HTTP_API_TIMEOUT_SECONDS * 1000);
    }
  });

  it('puts every function in the VPC from the params, and the collection schedule fans out by shard', () => {
    for (const [name] of Object.entries(yml.functions)) {
      assert.deepEqual(template.Resources[logicalId(name)]!.Properties.VpcConfig, { SubnetIds: SUBNETS, SecurityGroupIds: [SECURITY_GROUP] }, name);
    }
    const role = Object.values(template.Resources).find((r) => r.Type === 'AWS::IAM::Role')!;
    assert.match(JSON.stringify(role.Properties.ManagedPolicyArns), /AWSLambdaVPCAccessExecutionRole/);
    const rules = Object.entries(template.Resources).filter(([k, r]) => r.Type === 'AWS::Events::Rule' && k.startsWith('CollectAll'));
    assert.deepEqual(
      rules.map(([, r]) => [r.Properties.ScheduleExpression, r.Properties.Targets[0].Input]).sort(),
      Array.from({ length: SHARDS }, (_, i) => ['rate(1 minute)', JSON.stringify({ shard: `${i + 1}/${SHARDS}` })]).sort(),
    );
    const env = template.Resources[logicalId('collectAll')]!.Properties.Environment.Variables;
    assert.equal(env.EDGEFLEET_DB, 'ssm:/edgefleet/db-url');
  });

  it('runs from an empty folder: every handler loads without node_modules, and SQLite is refused in the user\'s words', async () => {
    const root = join(dir, 'task');
    for (const e of entries) {
      mkdirSync(dirname(join(root, e.name)), { recursive: true });
      writeFileSync(join(root, e.name), e.data());
    }
    const script = join(dir, 'load.mjs');
    writeFileSync(
      script,
      `const names = ${JSON.stringify(Object.values(yml.functions).map((f) => f.handler.replace(/\.handler$/, '.js')))};
for (const n of names) {
  const m = await import(${JSON.stringify(root)} + '/' + n);
  if (typeof m.handler !== 'function') throw new Error(n + ': no handler');
}
const { handler } = await import(${JSON.stringify(root)} + '/dist/functions/health.js');
const r = await handler({ headers: {}, rawPath: '/health', requestContext: { http: { method: 'GET', path: '/health' } } }, { awsRequestId: 'test', functionName: 'health', getRemainingTimeInMillis: () => 10000 }).catch((e) => ({ thrown: e.message }));
console.log(JSON.stringify({ loaded: names.length, health: r }));
`,
    );
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, [script], { cwd: root, env: { PATH: process.env.PATH!, EDGEFLEET_DB: join(dir, 'x.db') }, timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
      ),
    );
    const got = JSON.parse(stdout.trim().split('\n').pop()!) as { loaded: number; health: { statusCode: number } };
    assert.equal(got.loaded, Object.keys(yml.functions).length);
    // The HTTP answer hides the cause (a 500); the function's log says it.
    assert.equal(got.health.statusCode, 500);
    assert.match(stdout + stderr, /this build has no SQLite \(better-sqlite3 is not installed; the Lambda bundle leaves it out\): set EDGEFLEET_DB \/ store.url to a postgres:\/\/ URL/);
  });

  it('refuses to package a SQLite path for Lambda, or an HTTP function allowed past 29 s, saying what to set', async () => {
    const r = await serverless(['package', '--package', join(dir, 'refused')]);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /EDGEFLEET_DB is "data\/edgefleet\.db": on Lambda the store must be PostgreSQL/);
    const Bundle = createRequire(import.meta.url)('../contrib/serverless-bundle.cjs') as new (s: unknown) => { configure(): void };
    const service = {
      provider: { timeout: 29, environment: { EDGEFLEET_DB: 'postgres://db/edgefleet' } },
      custom: { edgefleet: {} },
      functions: { listNodes: { handler: 'dist/functions/listNodes.handler', timeout: 60, events: [{ httpApi: { method: 'GET', path: '/nodes' } }] } },
    };
    assert.throws(() => new Bundle({ service }).configure(), /function listNodes has an HTTP event and a timeout of 60 s; the HTTP API cuts requests at 30 s/);
  });
});
