import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTree, readStat, ticksPerSecond } from '../test/harness/procTree.js';

/**
 * The old system's round, for the benchmark to compare against: five `ansible-playbook` runs
 * in a row, one per metric, each running one shell command on every host, whose text output
 * is regex-parsed. Ansible's defaults are kept (forks 5, ssh_args `-C -o ControlMaster=auto
 * -o ControlPersist=60s`, no pipelining) except what running here needs.
 */

export interface BaselineNode {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKeyFile: string;
}

export interface BaselineResult {
  wallSeconds: number;
  /** ansible-playbook with all its workers and ssh clients, plus the ssh ControlPersist masters. */
  controllerCpuSeconds: number;
}

/** Text out of `-v` output, the way the old system read it; each must match on every host. */
const PLAYBOOKS = [
  // Nodes without a thermal zone (this loopback fleet: a VM has none) yield no temperatures.
  { metric: 'temperature', command: 'cat /sys/class/thermal/thermal_zone*/temp', parse: /^(?:\d+\n?)*$/ },
  { metric: 'cpu', command: 'top -bn1 | head -5', parse: /Cpu\(s\):.*?([\d.]+) id/ },
  { metric: 'memory', command: 'free -b', parse: /^Mem:\s+(\d+)\s+(\d+)/m },
  { metric: 'disk', command: 'df -Pk', parse: /^\S+\s+\d+\s+\d+\s+\d+\s+\d+%\s+\/$/m },
  { metric: 'network', command: 'cat /proc/net/dev', parse: /^\s*lo:\s*(\d+)/m },
] as const;

/**
 * Run one round. With `workDir` (kept between calls) ssh connections are reused from the
 * previous round as the old system's were; without it the round starts cold in a temporary
 * dir and its ssh masters are killed at the end.
 */
export async function ansibleRound(
  fleet: { nodes: BaselineNode[]; knownHostsFile: string },
  opts: { workDir?: string } = {},
): Promise<BaselineResult> {
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'edgefleet-ansible-'));
  const env = prepare(workDir, fleet);
  const controlDir = join(workDir, 'cp');
  const mastersBefore = masterTicks(controlDir);
  const childrenBefore = childTicks();
  const start = performance.now();
  try {
    for (const { metric, parse } of PLAYBOOKS) {
      const output = await playbook(workDir, env, metric);
      for (const node of fleet.nodes) {
        const stdout = hostStdout(output, node.name);
        if (stdout === undefined || !parse.test(stdout)) {
          throw new Error(`ansible ${metric}: no parsable output for ${node.name}:\n${output}`);
        }
      }
    }
    const wallSeconds = (performance.now() - start) / 1000;
    let masters = 0;
    for (const [pid, ticks] of masterTicks(controlDir)) masters += ticks - (mastersBefore.get(pid) ?? 0);
    return { wallSeconds, controllerCpuSeconds: (childTicks() - childrenBefore + masters) / ticksPerSecond() };
  } finally {
    if (opts.workDir === undefined) {
      for (const pid of masterTicks(controlDir).keys()) killTree(pid);
      rmSync(workDir, { recursive: true, force: true });
    }
  }
}

/** Write inventory, playbooks and an empty config (so no ansible.cfg elsewhere applies); return the env. */
function prepare(workDir: string, fleet: { nodes: BaselineNode[]; knownHostsFile: string }): NodeJS.ProcessEnv {
  const remoteTmp = join(workDir, 'remote');
  mkdirSync(remoteTmp, { recursive: true });
  chmodSync(workDir, 0o755);
  chmodSync(remoteTmp, 0o1777); // written by the nodes' login user, like /tmp
  const hosts = fleet.nodes.map(
    (n) =>
      `${n.name} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${iniValue(n.user)} ` +
      `ansible_ssh_private_key_file=${iniValue(n.privateKeyFile)}`,
  );
  const sshArgs = `-o UserKnownHostsFile=${fleet.knownHostsFile} -o StrictHostKeyChecking=yes`;
  writeFileSync(join(workDir, 'inventory.ini'), ['[fleet]', ...hosts, '[fleet:vars]', `ansible_ssh_common_args=${iniValue(sshArgs)}`, ''].join('\n'));
  for (const { metric, command } of PLAYBOOKS) {
    // JSON is YAML: no quoting rules to get wrong.
    const task = { name: metric, shell: command };
    if (metric === 'temperature') {
      Object.assign(task, { register: 'out', failed_when: "out.rc != 0 and 'No such file or directory' not in out.stderr" });
    }
    writeFileSync(join(workDir, `${metric}.yml`), JSON.stringify([{ name: metric, hosts: 'all', gather_facts: false, tasks: [task] }], null, 2));
  }
  writeFileSync(join(workDir, 'ansible.cfg'), '');
  return {
    ...process.env,
    ANSIBLE_CONFIG: join(workDir, 'ansible.cfg'),
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_LOCAL_TEMP: join(workDir, 'local'),
    ANSIBLE_REMOTE_TEMP: remoteTmp,
    // Ansible's own layout, moved under workDir so that this round's masters can be found.
    ANSIBLE_SSH_CONTROL_PATH_DIR: join(workDir, 'cp'),
    ANSIBLE_NOCOLOR: '1',
  };
}

/** Run one playbook; reject with its output when a host is unreachable or a task fails. */
function playbook(workDir: string, env: NodeJS.ProcessEnv, metric: string): Promise<string> {
  const args = ['-v', '-i', join(workDir, 'inventory.ini'), join(workDir, `${metric}.yml`)];
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/ansible-playbook', args, { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    // 'close', not 'exit': by then the child is reaped and its CPU is in our cutime/cstime.
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`ansible ${metric} exited ${code}:\n${output}`))));
  });
}

/** A host's stdout from `-v` output: `changed: [NAME] => {json}` on one line. */
function hostStdout(output: string, name: string): string | undefined {
  const line = new RegExp(`^(?:changed|ok): \\[${name.replace(/\W/g, '\\$&')}\\] => (\\{.*\\})$`, 'm').exec(output);
  return line ? (JSON.parse(line[1]!) as { stdout: string }).stdout : undefined;
}

/** CPU of this process's reaped children: ansible-playbook and all it waited for. */
function childTicks(): number {
  return readStat('self')!.reapedTicks;
}

/**
 * CPU so far of each ssh ControlPersist master using `controlDir`. They daemonize (PID 1
 * adopts them) and outlive the round, so no rusage of ours ever holds their CPU, yet they carry
 * every session's encryption. Their ControlPath argument names them.
 */
function masterTicks(controlDir: string): Map<number, number> {
  const masters = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Ansible's mux clients name it too, but they are all reaped when a playbook ends.
      const stat = readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${controlDir}/`) ? readStat(Number(entry)) : undefined;
      if (stat) masters.set(Number(entry), stat.ticks);
    } catch {
      // exited meanwhile
    }
  }
  return masters;
}

/** Quote an inventory value (Ansible splits INI host lines like a shell). */
function iniValue(value: string): string {
  if (value.includes("'")) throw new Error(`unsupported quote in inventory value: ${value}`);
  return `'${value}'`;
}
