import type { NodeSpec } from '../domain/index.js';

/** What edgefleet needs from an inventory host: its name, groups and flattened vars. */
export interface HostLike {
  name: string;
  groups: string[];
  vars: Record<string, unknown>;
}

export class NodeSpecError extends Error {
  override name = 'NodeSpecError';
  constructor(
    message: string,
    /** The var at fault, to find its line. */
    readonly varName?: string,
  ) {
    super(message);
  }
}

/** Ansible's connection plugin names, mapped to edgefleet's transports. */
const CONNECTIONS: Record<string, NodeSpec['connection']> = {
  local: 'local',
  ssh: 'ssh',
  smart: 'ssh',
  paramiko: 'ssh',
  paramiko_ssh: 'ssh',
  'ansible.builtin.local': 'local',
  'ansible.builtin.ssh': 'ssh',
  'ansible.builtin.paramiko_ssh': 'ssh',
  aws_ssm: 'ssm',
  'community.aws.aws_ssm': 'ssm',
  'amazon.aws.aws_ssm': 'ssm',
};

function str(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

/**
 * A host's connection as Ansible would make it: ansible_connection, ansible_host, ansible_port,
 * ansible_user, key file. Throws NodeSpecError on a var that cannot be used; `nodeSpecs` turns
 * that into one host's `problem` instead of refusing the inventory.
 */
export function nodeSpec(host: HostLike): NodeSpec {
  const v = host.vars;
  const connName = str(v.ansible_connection) ?? 'ssh';
  const connection = CONNECTIONS[connName];
  if (!connection) throw new NodeSpecError(`host ${host.name}: ansible_connection=${connName} is not supported (use local, ssh or aws_ssm)`, 'ansible_connection');
  const portText = str(v.ansible_port) ?? str(v.ansible_ssh_port) ?? '22';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new NodeSpecError(`host ${host.name}: ansible_port ${JSON.stringify(portText)} is not a port number (1-65535)`, v.ansible_port !== undefined ? 'ansible_port' : 'ansible_ssh_port');
  const hostAddr = str(v.ansible_host) ?? str(v.ansible_ssh_host) ?? host.name;
  return {
    name: host.name,
    groups: groupsOf(host),
    vars: v,
    connection,
    host: hostAddr,
    port,
    user: str(v.ansible_user) ?? str(v.ansible_ssh_user),
    privateKeyFile: str(v.ansible_ssh_private_key_file) ?? str(v.ansible_private_key_file),
    ...(connection === 'ssm' ? { ssm: ssmTarget(host.name, v, hostAddr) } : {}),
  };
}

const groupsOf = (host: HostLike) => [...host.groups].filter((g) => g !== 'all').sort();

/**
 * Every host's spec; a host whose vars cannot be used gets a spec with `problem` (prefixed by
 * `source`, the inventory file, and the line `locate` finds for the var), so one bad
 * `ansible_port` marks that host `error` and the others are collected.
 */
export function nodeSpecs(hosts: Iterable<HostLike>, source?: string, locate?: (host: string, varName: string) => number | undefined): NodeSpec[] {
  return [...hosts].map((h) => {
    try {
      return nodeSpec(h);
    } catch (e) {
      if (!(e instanceof NodeSpecError)) throw e;
      const v = h.vars;
      return {
        name: h.name,
        groups: groupsOf(h),
        vars: v,
        connection: 'ssh',
        host: str(v.ansible_host) ?? str(v.ansible_ssh_host) ?? h.name,
        port: 0,
        user: str(v.ansible_user) ?? str(v.ansible_ssh_user),
        problem: where(source, e.varName && locate?.(h.name, e.varName)) + e.message,
      };
    }
  });
}

const where = (source: string | undefined, line: number | undefined | '') => (source ? `${source}:${line ? `${line}:` : ''} ` : '');

/**
 * The 1-based line of an INI inventory where `varName` is set for `host`: on the host's own line
 * (`pi-02 ansible_port=99999`), else in a `[group:vars]` section; undefined when not found (a
 * YAML inventory, a range, group_vars/ files), and the error names the file alone.
 */
export function iniVarLine(text: string, host: string, varName: string): number | undefined {
  const lines = text.split(/\r\n|\n|\r/);
  const setsVar = (l: string) => new RegExp(`(^|\\s)${varName}\\s*=`).test(l);
  const i = lines.findIndex((l) => l.trim().split(/\s+/)[0] === host && setsVar(l));
  if (i >= 0) return i + 1;
  let inVars = false;
  for (const [j, l] of lines.entries()) {
    const t = l.trim();
    if (t.startsWith('[')) inVars = /:vars\]$/.test(t);
    else if (inVars && new RegExp(`^${varName}\\s*=`).test(t)) return j + 1;
  }
  return undefined;
}

/** EC2 (`i-` + 8 or 17 hex digits) or hybrid managed instance (`mi-` + 17) ids, as SSM accepts them. */
const INSTANCE_ID = /^(i-([0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** The vars community.aws.aws_ssm reads: ansible_aws_ssm_instance_id (else ansible_host), _region, _profile. */
function ssmTarget(name: string, v: Record<string, unknown>, hostAddr: string): NonNullable<NodeSpec['ssm']> {
  const instanceId = str(v.ansible_aws_ssm_instance_id) ?? hostAddr;
  if (!INSTANCE_ID.test(instanceId)) {
    throw new NodeSpecError(`host ${name}: ${JSON.stringify(instanceId)} is not an SSM instance id (i-… or mi-…); set ansible_aws_ssm_instance_id`, v.ansible_aws_ssm_instance_id !== undefined ? 'ansible_aws_ssm_instance_id' : 'ansible_host');
  }
  const region = str(v.ansible_aws_ssm_region);
  if (region !== undefined && !REGION.test(region)) throw new NodeSpecError(`host ${name}: ansible_aws_ssm_region ${JSON.stringify(region)} is not an AWS region`, 'ansible_aws_ssm_region');
  const profile = str(v.ansible_aws_ssm_profile);
  return { instanceId, ...(region ? { region } : {}), ...(profile ? { profile } : {}) };
}
