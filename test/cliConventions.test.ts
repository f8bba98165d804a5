/**
 * CLI conventions a user meets first: each command's own --help, an unknown flag as one line
 * with the nearest flag, config values out of range named with what is allowed (file, variable
 * or flag alike), and shell completion that a real bash runs. Expected lines are written out here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN, runCli } from './harness/cli.js';

const root = mkdtempSync(join(tmpdir(), 'edgefleet-conv-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(root, `t${++n}`);
  mkdirSync(d);
  return d;
};

describe('edgefleet CMD --help', () => {
  for (const [cmd, usage, flag] of [
    ['run', 'Usage: edgefleet run [options]', '--json'],
    ['hub', 'Usage: edgefleet hub [options]', '--interval SECONDS'],
    ['deploy', 'Usage: edgefleet deploy MODEL:TAG [options]', '--publish H:C'],
    ['anomalies', 'Usage: edgefleet anomalies [options]', '--since D'],
  ] as const) {
    it(`${cmd} --help: its own usage, its flags and an example, exit 0`, async () => {
      const r = await runCli([cmd, '--help'], { cwd: fresh() });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split('\n')[0], usage);
      assert.ok(r.stdout.includes(flag), r.stdout);
      assert.match(r.stdout, new RegExp(`^Examples?:\\n  edgefleet ${cmd} `, 'm'));
    });
  }
});

describe('errors: the exact command, its exit code and the first line of its message', () => {
  const yaml = (text: string) => {
    const d = fresh();
    writeFileSync(join(d, 'edgefleet.yaml'), text);
    return d;
  };
  for (const [args, env, code, first, cwd] of [
    [['run', '--bogus-flag'], {}, 1, 'edgefleet: run: unknown flag --bogus-flag; see edgefleet run --help'],
    [['run', '--jsn'], {}, 1, 'edgefleet: run: unknown flag --jsn (did you mean --json?); see edgefleet run --help'],
    [['hub', '--intervall', '5'], {}, 1, 'edgefleet: hub: unknown flag --intervall (did you mean --interval?); see edgefleet hub --help'],
    [['nodes', '--db'], {}, 1, 'edgefleet: nodes: --db needs a value (PATH); see edgefleet nodes --help'],
    [['runn'], {}, 1, 'edgefleet: unknown command "runn" (did you mean run?); see edgefleet --help'],
    [['hub', '--interval', '0'], {}, 1, 'edgefleet: --interval (hub.intervalSeconds): expected a number from 1 to 86400 (seconds), got "0"'],
    [['hub', '--port', '80x'], {}, 1, 'edgefleet: --port (hub.port): expected a whole number from 1 to 65535, got "80x"'],
    [['run'], { EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '-1' }, 1, 'edgefleet: EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS (collect.commandTimeoutSeconds): expected a number above 0 and at most 3600 (seconds), got "-1"'],
    [['run'], { EDGEFLEET_COLLECT_CONCURRENCY: '0' }, 1, 'edgefleet: EDGEFLEET_COLLECT_CONCURRENCY (collect.concurrency): expected a whole number from 1 to 4096, got "0"'],
    [['hub'], {}, 1, 'edgefleet: EDGEFLEET_CONFIG_DIR/edgefleet.yaml:2: "hub.intervalSeconds": expected a number from 1 to 86400 (seconds), got 0', 'hub:\n  intervalSeconds: 0\n'],
    [['nodes'], {}, 1, 'edgefleet: EDGEFLEET_CONFIG_DIR/edgefleet.yaml:1: unknown key "colect" (did you mean "collect"?)', 'colect:\n  concurrency: 4\n'],
  ] as [string[], Record<string, string>, number, string, string?][]) {
    it(`edgefleet ${args.join(' ')}${Object.entries(env).map(([k, v]) => ` ${k}=${v}`).join('')}${cwd ? ' (edgefleet.yaml)' : ''} → exit ${code}`, async () => {
      const dir = cwd ? yaml(cwd) : fresh();
      const r = await runCli(args, { cwd: dir, env, timeoutMs: 15_000 });
      assert.equal(r.code, code, r.stderr);
      assert.equal(r.stderr.split('\n')[0], first.replace('EDGEFLEET_CONFIG_DIR', dir));
    });
  }
});

describe('edgefleet completion', () => {
  it('bash: a real bash completes commands and the command’s flags', () => {
    const script = execFileSync(process.execPath, [BIN, 'completion', 'bash'], { encoding: 'utf8' });
    const complete = (words: string[]) =>
      execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _edgefleet; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(complete(['edgefleet', 'dep']), ['deploy', 'deployments']);
    assert.deepEqual(complete(['edgefleet', 'hub', '--in']), ['--interval', '--inventory']);
    assert.deepEqual(complete(['edgefleet', 'completion', '']), ['bash', 'zsh']);
  });

  it('zsh: a #compdef script naming every command', async () => {
    const r = await runCli(['completion', 'zsh'], { cwd: fresh() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n')[0], '#compdef edgefleet');
    for (const c of ['run', 'hub', 'deploy', 'inference']) assert.match(r.stdout, new RegExp(`^    '${c}:`, 'm'));
  });

  it('an unknown shell: exit 1', async () => {
    const r = await runCli(['completion', 'fish'], { cwd: fresh() });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'edgefleet: completion takes bash or zsh\n');
  });
});
