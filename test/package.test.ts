/**
 * edgefleet as a user installs it: `npm pack` (prepack builds dist/), `npm install -g` of the
 * tarball into a temp prefix, then the installed `edgefleet` from an unrelated folder: --version,
 * a run, and the hub until SIGTERM. The tarball carries compiled JS and no TypeScript, and runs
 * without tsx.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { cleanEnv } from './harness/cli.js';
import { freePort } from './harness/ports.js';
import { answers, goneWithin, killAll, processesWith } from './harness/procs.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const LOCAL_INVENTORY = join(import.meta.dirname, 'fixtures', 'cli', 'local.ini');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('npm pack → npm install -g → edgefleet', { timeout: 300_000 }, () => {
  let dir: string;
  let prefix: string;
  let elsewhere: string;
  let bin: string;
  let tarball: string;
  const env = () => cleanEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH}` });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-pack-'));
    prefix = join(dir, 'prefix');
    elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, timeout: 180_000, maxBuffer: 16 << 20 });
    tarball = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
    // Dependencies come from the npm registry as for any user; better-sqlite3's install script
    // would compile SQLite for minutes (its prebuilt binaries are on GitHub, out of reach here),
    // so its scripts are skipped and the checkout's addon, built for this same Node, is copied in.
    // From npm's cache alone first (`npm ci` filled it with these very versions): no network at
    // all; only what the cache lacks is fetched from the registry.
    const install = (mode: string) => run('npm', ['install', '-g', '--prefix', prefix, '--ignore-scripts', mode, '--no-audit', '--no-fund', tarball], { cwd: dir, timeout: 180_000 });
    await install('--offline').catch(() => install('--prefer-offline'));
    const addon = join('better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    const installed = join(prefix, 'lib', 'node_modules', 'edgefleet', 'node_modules');
    mkdirSync(join(installed, 'better-sqlite3', 'build', 'Release'), { recursive: true });
    copyFileSync(join(ROOT, 'node_modules', addon), join(installed, addon));
    bin = join(prefix, 'bin', 'edgefleet');
  });
  after(() => {
    if (dir) {
      killAll(processesWith(dir));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the tarball holds compiled JS, serverless.yml and the unit, no TypeScript sources; tsx is not installed', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    for (const f of ['package/bin/edgefleet.js', 'package/dist/cli/main.js', 'package/dist/functions/collectAll.js', 'package/serverless.yml', 'package/contrib/edgefleet-hub.service', 'package/Containerfile']) {
      assert.ok(files.includes(f), `${f} not in the tarball`);
    }
    assert.deepEqual(files.filter((f) => f.endsWith('.ts')), []);
    const installed = join(prefix, 'lib', 'node_modules', 'edgefleet', 'node_modules');
    assert.ok(existsSync(join(installed, 'yaml')));
    assert.ok(!existsSync(join(installed, 'tsx')), 'tsx was installed with the package');
    assert.ok(!readdirSync(installed).includes('typescript'));
  });

  it('contrib/edgefleet-hub.service passes systemd-analyze verify with ExecStart= the installed binary', async () => {
    const unit = join(dir, 'edgefleet-hub.service');
    const text = readFileSync(join(ROOT, 'contrib', 'edgefleet-hub.service'), 'utf8');
    assert.match(text, /^ExecStart=\/usr\/local\/bin\/edgefleet hub$/m);
    writeFileSync(unit, text.replace('ExecStart=/usr/local/bin/edgefleet', `ExecStart=${bin}`));
    const r = await run('systemd-analyze', ['verify', unit]).catch((e: { stderr: string; code: number }) => e);
    assert.equal('code' in r ? r.code : 0, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
  });

  it('edgefleet --version from an unrelated folder prints package.json’s version', async () => {
    const { stdout } = await run(bin, ['--version'], { cwd: elsewhere, env: env() });
    assert.equal(stdout, `${VERSION}\n`);
  });

  it('edgefleet run -i … collects the local node', async () => {
    const db = join(elsewhere, 'fleet.db');
    const { stdout } = await run('edgefleet', ['run', '-i', LOCAL_INVENTORY, '--db', db], { cwd: elsewhere, env: env() });
    assert.match(stdout, /^hub-local\s+up\s/m);
    assert.match(stdout, /1\/1 nodes up/);
    assert.ok(existsSync(db));
  });

  it('edgefleet hub serves, and SIGTERM stops it: exit 0, nothing left', async () => {
    const port = await freePort();
    const db = join(elsewhere, 'hub.db');
    const hub = spawn('edgefleet', ['hub', '--port', String(port), '-i', LOCAL_INVENTORY, '--db', db], { cwd: elsewhere, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    hub.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => hub.on('exit', (code) => r(code)));
    try {
      assert.ok(await answers(`http://127.0.0.1:${port}/health`, 30_000), `the installed hub never served:\n${stderr}`);
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string };
      assert.equal(health.status, 'ok');
      hub.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.deepEqual(await goneWithin(db, 5000), []);
    } finally {
      hub.kill('SIGKILL');
    }
  });
});
