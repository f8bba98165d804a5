/** A host from the inventory, as edgefleet reaches it. */
export interface NodeSpec {
  /** Inventory hostname. */
  name: string;
  /** Groups the host belongs to (direct and inherited), sorted, without `all`. */
  groups: string[];
  /** Every var Ansible would give the host (group vars merged, host vars win). */
  vars: Record<string, unknown>;
  connection: 'local' | 'ssh' | 'ssm';
  /** ansible_host, else the name. */
  host: string;
  port: number;
  user?: string;
  privateKeyFile?: string;
  /**
   * Why this host cannot be reached as its vars say (`ansible_port "99999" is not a port
   * number`): it is synced and marked `error` with this reason each round, never connected
   * to; the other hosts are collected as usual. `port` is then 0 (stored as NULL).
   */
  problem?: string;
  /** For `ssm`: the managed instance and, when the inventory names them, its region and profile. */
  ssm?: { instanceId: string; region?: string; profile?: string };
}

/** An SSM node's agent as DescribeInstanceInformation last reported it (absent: not an SSM node, or not asked yet). */
export interface SsmAgentInfo {
  /** AgentVersion, e.g. `3.3.1142.0`. */
  agentVersion?: string;
  /** PlatformName / PlatformVersion, e.g. `Ubuntu` `22.04`. */
  platformName?: string;
  platformVersion?: string;
  /** PingStatus: `Online`, `ConnectionLost` or `Inactive`. */
  pingStatus?: string;
  /** LastPingDateTime. */
  lastPingUnixSeconds?: number;
}

export const NODE_STATUSES = ['unknown', 'up', 'unreachable', 'error', 'removed'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];
