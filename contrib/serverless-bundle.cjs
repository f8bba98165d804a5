'use strict';
/**
 * A local serverless plugin: what `serverless package` / `deploy` put on AWS Lambda.
 *
 * - The artifact is an esbuild bundle of functions/*.ts (ESM, shared chunks), not the checkout
 *   with its node_modules: no native module goes in. better-sqlite3 and snappy are loaded lazily
 *   by the code (a PostgreSQL-backed Lambda never asks for them) and left out; ssh2's optional
 *   cpu-features and sshcrypto.node are left out too (ssh2 falls back to its JavaScript crypto).
 *   So nothing in the zip depends on the CPU, and serverless.yml's `architecture` holds.
 * - Checks made before anything is built, each refusing the package with the fix: no function
 *   with an HTTP event may have a timeout over 29 s (API Gateway's HTTP API cuts at 30 s); the
 *   store must be PostgreSQL (`postgres://…`, or an `ssm:/…` reference to one), since /var/task
 *   is read-only and /tmp is one instance's.
 * - From configuration (serverless params or environment): the VPC (subnets and security groups
 *   together), and the collection fan-out: with `collectShards` n > 1, each schedule of the
 *   functions in custom.edgefleet.shardedFunctions becomes n schedules, the k-th invoking the
 *   function with `{ "shard": "k/n" }`.
 */
const { deflateRawSync, crc32 } = require('node:zlib');
const { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative, sep } = require('node:path');

/** API Gateway HTTP API's integration timeout is 30 s; a function must answer before it. */
const HTTP_MAX_TIMEOUT_SECONDS = 29;
const MAX_SHARDS = 100;
/** Never bundled: native (`.node`), optional native helpers, and the lazily loaded native modules. */
const EXTERNAL = ['*.node', 'cpu-features', 'pg-native', 'better-sqlite3', 'snappy'];
/** ESM output still runs CommonJS dependencies, which use require, __filename and __dirname. */
const BANNER = [
  "import { createRequire as __edgefleetRequire } from 'node:module';",
  "import { fileURLToPath as __edgefleetPath } from 'node:url';",
  "import { dirname as __edgefleetDirname } from 'node:path';",
  'const require = __edgefleetRequire(import.meta.url);',
  'const __filename = __edgefleetPath(import.meta.url);',
  'const __dirname = __edgefleetDirname(__filename);',
].join(' ');

class EdgefleetLambdaBundle {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options ?? {};
    this.hooks = {
      'before:package:initialize': () => this.configure(),
      'before:package:createDeploymentArtifacts': () => this.bundle(),
    };
  }

  fail(message) {
    const Err = this.serverless.classes?.Error ?? Error;
    throw new Err(`edgefleet: ${message}`);
  }

  configure() {
    const service = this.serverless.service;
    const custom = service.custom?.edgefleet ?? {};
    const provider = service.provider;

    for (const [name, fn] of Object.entries(service.functions ?? {})) {
      const http = (fn.events ?? []).some((e) => e && (e.httpApi || e.http));
      const timeout = Number(fn.timeout ?? provider.timeout ?? 6);
      if (http && timeout > HTTP_MAX_TIMEOUT_SECONDS) {
        this.fail(`function ${name} has an HTTP event and a timeout of ${timeout} s; the HTTP API cuts requests at 30 s: give it timeout: ${HTTP_MAX_TIMEOUT_SECONDS} or less`);
      }
    }

    const db = String(provider.environment?.EDGEFLEET_DB ?? '');
    if (!/^postgres(ql)?:\/\/./.test(db) && !/^ssm:\/./.test(db)) {
      this.fail(
        `EDGEFLEET_DB is ${JSON.stringify(db)}: on Lambda the store must be PostgreSQL (/var/task is read-only and /tmp is one instance's): ` +
          'give --param="db=ssm:/edgefleet/db-url" (a SecureString holding the postgres:// URL) or EDGEFLEET_DB=postgres://… (docs/aws.md)',
      );
    }

    const list = (v) => String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const subnetIds = list(custom.vpc?.subnetIds);
    const securityGroupIds = list(custom.vpc?.securityGroupIds);
    if (subnetIds.length || securityGroupIds.length) {
      if (!subnetIds.length || !securityGroupIds.length) this.fail('a VPC needs both subnetIds and securityGroupIds (params or EDGEFLEET_VPC_SUBNET_IDS / EDGEFLEET_VPC_SECURITY_GROUP_IDS), comma-separated');
      for (const id of subnetIds) if (!/^subnet-[0-9a-f]{8,17}$/.test(id)) this.fail(`subnet id ${JSON.stringify(id)} is not subnet-…`);
      for (const id of securityGroupIds) if (!/^sg-[0-9a-f]{8,17}$/.test(id)) this.fail(`security group id ${JSON.stringify(id)} is not sg-…`);
      provider.vpc = { subnetIds, securityGroupIds };
    }

    const raw = String(custom.collectShards ?? '1');
    const shards = Number(raw);
    if (!/^\d+$/.test(raw) || shards < 1 || shards > MAX_SHARDS) this.fail(`collectShards ${JSON.stringify(raw)} is not a whole number from 1 to ${MAX_SHARDS}`);
    if (shards > 1) {
      for (const name of custom.shardedFunctions ?? []) {
        const fn = service.functions?.[name];
        if (!fn) this.fail(`custom.edgefleet.shardedFunctions names ${name}, which is not a function`);
        fn.events = (fn.events ?? []).flatMap((e) => {
          if (!e || !e.schedule) return [e];
          // Past serverless' own normalisation here: `rate` is a list of expressions.
          const s = typeof e.schedule === 'string' ? { rate: [e.schedule] } : { ...e.schedule, rate: [].concat(e.schedule.rate) };
          return Array.from({ length: shards }, (_, i) => ({ schedule: { ...s, input: { ...(s.input ?? {}), shard: `${i + 1}/${shards}` } } }));
        });
      }
    }
  }

  async bundle() {
    const service = this.serverless.service;
    const root = this.serverless.serviceDir ?? this.serverless.config.servicePath;
    const esbuild = require(require.resolve('esbuild', { paths: [root] }));
    const entries = new Map();
    for (const [name, fn] of Object.entries(service.functions ?? {})) {
      const m = /^dist\/functions\/([A-Za-z0-9_-]+)\.handler$/.exec(fn.handler ?? '');
      if (!m) this.fail(`function ${name}: handler ${fn.handler} is not dist/functions/NAME.handler`);
      entries.set(m[1], join(root, 'functions', `${m[1]}.ts`));
    }
    const build = mkdtempSync(join(tmpdir(), 'edgefleet-lambda-'));
    try {
      this.serverless.cli.log(`edgefleet: bundling ${entries.size} functions with esbuild for ${service.provider.runtime} ${service.provider.architecture ?? 'x86_64'}`);
      const result = await esbuild.build({
        absWorkingDir: root,
        entryPoints: Object.fromEntries([...entries].map(([n, p]) => [`functions/${n}`, p])),
        outdir: join(build, 'dist'),
        chunkNames: 'chunks/[name]-[hash]',
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        external: EXTERNAL,
        banner: { js: BANNER },
        legalComments: 'none',
        logLevel: 'warning',
      });
      if (result.errors.length) this.fail(`esbuild: ${result.errors.map((e) => e.text).join('; ')}`);
      // .js files under /var/task are ES modules.
      writeFileSync(join(build, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
      // The inventory and config the functions read, when they are files in the service folder.
      for (const extra of ['inventory', 'edgefleet.yaml']) {
        if (existsSync(join(root, extra))) copyInto(join(root, extra), join(build, extra));
      }
      // serverless moves .serverless/ to --package DIR when given.
      const outDir = join(root, '.serverless');
      mkdirSync(outDir, { recursive: true });
      const zipPath = join(outDir, `${service.service}.zip`);
      writeFileSync(zipPath, zip(build));
      // serverless uses this artifact as it is instead of zipping the service folder.
      service.package = { ...(service.package ?? {}), artifact: zipPath };
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  }
}

function copyInto(from, to) {
  if (statSync(from).isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const e of readdirSync(from)) if (!e.startsWith('.')) copyInto(join(from, e), join(to, e));
  } else writeFileSync(to, readFileSync(from));
}

function files(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), base) : [relative(base, join(dir, e.name)).split(sep).join('/')]));
}

/** A zip of every file under `dir` (deflate, fixed 1980 timestamps and 0644 mode, so the same build gives the same bytes). */
function zip(dir) {
  const local = [];
  const central = [];
  let offset = 0;
  for (const name of files(dir)) {
    const data = readFileSync(join(dir, name));
    const packed = deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4); // version needed
    head.writeUInt16LE(0x0800, 6); // UTF-8 names
    head.writeUInt16LE(8, 8); // deflate
    head.writeUInt16LE(0, 10); // time
    head.writeUInt16LE(0x21, 12); // 1980-01-01
    head.writeUInt32LE(crc, 14);
    head.writeUInt32LE(packed.length, 18);
    head.writeUInt32LE(data.length, 22);
    head.writeUInt16LE(nameBytes.length, 26);
    head.writeUInt16LE(0, 28);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(0x0314, 4); // made by: unix, 2.0
    head.copy(entry, 6, 4, 30); // version needed … name length, as in the local header
    entry.writeUInt16LE(0, 30); // extra
    entry.writeUInt16LE(0, 32); // comment
    entry.writeUInt16LE(0, 34); // disk
    entry.writeUInt16LE(0, 36); // internal attributes
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    entry.writeUInt32LE(offset, 42);
    local.push(head, nameBytes, packed);
    central.push(entry, nameBytes);
    offset += head.length + nameBytes.length + packed.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length / 2, 8);
  end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, centralBytes, end]);
}

module.exports = EdgefleetLambdaBundle;
