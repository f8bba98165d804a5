/**
 * The hub under the launchers people use: `npx edgefleet hub` and `npm run hub` put npm and a
 * `sh -c` between the shell and the node process. SIGTERM to the launcher must stop the hub:
 * no process of that hub left within 5 s (none re-parented to PID 1, still serving). And the
 * parent watch alone (cli/commands/hub.ts): a `sh -c` parent killed with SIGKILL forwards
 * nothing, so only the hub seeing its parent gone can stop it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN, cleanEnv } from './harness/cli.js';
import { freePort } from './harness/ports.js';
import { answers, goneWithin, killAll, processesWith } from './harness/procs.js';

const ROOT = join(import.meta.dirname, '..');
const LOCAL_INVENTORY = join(import.meta.dirname, 'fixtures', 'cli', 'local.ini');
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-signals-'));
after(() => {
  killAll(processesWith(dir));
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGTERM to the launcher stops the hub', { timeout: 120_000 }, () => {
  for (const [name, launcher, args, signal] of [
    ['npx edgefleet hub', 'npx', ['edgefleet', 'hub'], 'SIGTERM'],
    ['npm run hub', 'npm', ['run', 'hub', '--'], 'SIGTERM'],
    // "; :" keeps sh from exec'ing node: sh stays the hub's parent, as under npm.
    ['sh -c "node bin/edgefleet.js hub; :", the sh killed', 'sh', ['-c', `"${process.execPath}" "${BIN}" hub "$@"; :`, 'sh'], 'SIGKILL'],
  ] as const) {
    it(`${name}: ${signal} to it, no hub process left within 5 s`, async () => {
      const port = await freePort();
      // The database path is unique to this case: it marks every process of this hub.
      const db = join(dir, `${launcher}-${port}.db`);
      const child = spawn(launcher, [...args, '--port', String(port), '-i', LOCAL_INVENTORY, '--db', db], {
        cwd: ROOT,
        env: cleanEnv({ EDGEFLEET_LOG_LEVEL: 'warn' }),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      try {
        assert.ok(await answers(`http://127.0.0.1:${port}/health`, 60_000), `the hub never served:\n${stderr}`);
        const before = processesWith(db);
        assert.ok(before.some((p) => /bin\/edgefleet(\.js)? hub/.test(p.cmd)), `no hub process found: ${JSON.stringify(before)}`);
        child.kill(signal);
        const left = await goneWithin(db, 5000);
        assert.deepEqual(left, [], `left running 5 s after ${signal} to ${launcher}`);
        assert.equal(await answers(`http://127.0.0.1:${port}/health`, 200), false, 'still serving');
      } finally {
        killAll(processesWith(db));
        child.kill('SIGKILL');
      }
    });
  }
});
