/**
 * bench:ssm — collection rounds (all five kinds, parsed and stored) over 200 SSM managed
 * instances on the local SSM server (test/harness/ssmServer.ts), which answers each command
 * 2 s after SendCommand however fast its script ran: the anchor is that 2 s, measured in the
 * same run as the slowest instance's answer. Counts every API request the server received
 * (throttled and retried ones included). Target: ceil(200/50) = 4 SendCommand, ≤ 300 calls,
 * round within two poll intervals of the slowest instance.
 *
 *   npm run bench:ssm                   # 3 rounds
 *   BENCH_ROUNDS=5 BENCH_INSTANCES=100 npm run bench:ssm
 */
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { closeResources } from '../shared/handler/resources.js';
import { managedInstanceId, startSsmServer } from '../test/harness/ssmServer.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_INSTANCES ?? 200);
const ANSWER_AFTER_MS = 2000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f3 = (x: number) => x.toFixed(3);

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-ssm-'));
chmodSync(dir, 0o755);
const root = join(dir, 'root');
cpSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'machines', 'rpi4'), root, { recursive: true });
const ids = Array.from({ length: N }, (_, i) => managedInstanceId(0x1000 + i));
const server = await startSsmServer({ instances: ids.map((id) => ({ id, root: dir })), answerAfterMs: ANSWER_AFTER_MS });
try {
  writeFileSync(
    join(dir, 'hosts.ini'),
    '[ssm]\n' + ids.map((id, i) => `edge-${String(i + 1).padStart(3, '0')} ansible_connection=aws_ssm ansible_aws_ssm_instance_id=${id}`).join('\n') +
      `\n\n[ssm:vars]\nedgefleet_proc_root=${root}/proc\nedgefleet_sys_root=${root}/sys\n`,
  );
  Object.assign(process.env, server.env, {
    AWS_CONFIG_FILE: join(dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_LOG_LEVEL: 'warn',
  });
  delete process.env.AWS_PROFILE;
  const { handler } = await import('../functions/collectAll.js');
  const wall: number[] = [];
  const calls: number[] = [];
  const sends: number[] = [];
  let byOp = '';
  for (let i = 0; i < ROUNDS; i++) {
    server.calls.clear();
    const s = (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
    if (s.ok !== N) throw new Error(`${s.failed} of ${N} instances failed: ${JSON.stringify(s.perNode.find((r) => r.status !== 'up'))}`);
    wall.push(s.durationMs / 1000);
    calls.push(server.totalCalls());
    sends.push(server.calls.get('SendCommand') ?? 0);
    byOp = [...server.calls].map(([op, n]) => `${op} ${n}`).join(', ');
  }
  if (server.rejected.length) throw new Error(`the server refused requests: ${JSON.stringify(server.rejected.slice(0, 3))}`);
  const round = median(wall);
  console.log(`rounds ${ROUNDS}: round median ${f3(round)} s (min ${f3(Math.min(...wall))}, max ${f3(Math.max(...wall))}); API calls per round median ${median(calls)} (${byOp}); SendCommand ${median(sends)}`);
  console.log(`anchor: slowest instance answers after ${f3(ANSWER_AFTER_MS / 1000)} s; round / anchor = ${(round / (ANSWER_AFTER_MS / 1000)).toFixed(2)}; throttled ${server.throttled()}`);
  console.log(`bench:ssm instances=${N} api_calls=${median(calls)} round_s=${f3(round)}`);
} finally {
  await closeResources();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
