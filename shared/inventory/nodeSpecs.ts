import type { NodeSpec } from '../domain/index.js';

/** What edgefleet needs from an inventory host: its name, groups and flattened vars. */
export interface HostLike {
  name: string;
  groups: string[];
  vars: Record<string, unknown>;
}

export class NodeSpecError extends Error {
  override name = 'NodeSpecError';
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
  if (!connection) throw new NodeSpecError(`host ${host.name}: ansible_connection=${connName} is not supported (use local, ssh or aws_ssm)`);
  const portText = str(v.ansible_port) ?? str(v.ansible_ssh_port) ?? '22';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new NodeSpecError(`host ${host.name}: ansible_port ${JSON.stringify(portText)} is not a port number (1-65535)`);
  return {
    name: host.name,
    groups: groupsOf(host),
    vars: v,
    connection,
    host: str(v.ansible_host) ?? str(v.ansible_ssh_host) ?? host.name,
    port,
    user: str(v.ansible_user) ?? str(v.ansible_ssh_user),
    privateKeyFile: str(v.ansible_ssh_private_key_file) ?? str(v.ansible_private_key_file),
  };
}

const groupsOf = (host: HostLike) => [...host.groups].filter((g) => g !== 'all').sort();

/**
 * Every host's spec; a host whose vars cannot be used gets a spec with `problem` (prefixed by
 * `source`, the inventory file), so one bad `ansible_port` marks that host `error` and the others
 * are collected.
 */
export function nodeSpecs(hosts: Iterable<HostLike>, source?: string): NodeSpec[] {
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
        problem: source ? `${source}: ${e.message}` : e.message,
      };
    }
  });
}
