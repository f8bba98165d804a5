import type { NodeSpec } from '../domain/index.js';
import { LocalTransport } from './local.js';
import { SshTransport, type SshOptions } from './ssh.js';
import { SsmFleet, SsmTransport, type SsmSettings } from './ssm.js';
import { TransportError, type Transport } from './transport.js';

type TransportOptions = SshOptions | { local: true } | { ssm: { instanceId: string } & SsmSettings } | { problem: string };

export interface TransportSettings {
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  privateKeyFile: string;
  agentSocket: string;
  user: string;
  connectTimeoutMs: number;
  /** ssm.region: for SSM nodes without ansible_aws_ssm_region; empty: the SDK's chain. */
  ssmRegion?: string;
  /** ssm.outputS3Bucket / outputS3KeyPrefix: SendCommand's S3 output, read when stdout passes SSM's cut. */
  ssmOutputS3?: SsmSettings['outputS3'];
  /** SSM polling, for tests. */
  ssmPoll?: Pick<SsmSettings, 'pollInitialMs' | 'pollMaxMs'>;
}

/**
 * Connections are a cache, never the truth: one per node per process, reused across rounds
 * (a warm Lambda, the hub), replaced when the node's connection vars change.
 */
export class TransportPool {
  readonly #byNode = new Map<string, { key: string; transport: Transport }>();
  /** Set by destroyAll: work still running gets no new connection. */
  #shutDown = false;
  /** One SSM client per region and profile, shared by its nodes so their commands batch. */
  readonly #ssmFleets = new Map<string, SsmFleet>();

  constructor(private readonly settings: TransportSettings) {}

  get(node: NodeSpec): Transport {
    if (this.#shutDown) return new UnsupportedTransport(`host ${node.name}: not connected, edgefleet is shutting down`);
    const opts = this.#options(node);
    const key = JSON.stringify(opts);
    const hit = this.#byNode.get(node.name);
    if (hit?.key === key) return hit.transport;
    void hit?.transport.close();
    const transport = this.#make(node, opts);
    this.#byNode.set(node.name, { key, transport });
    return transport;
  }

  async closeAll(): Promise<void> {
    const all = [...this.#byNode.values()];
    this.#byNode.clear();
    await Promise.all(all.map((t) => t.transport.close()));
    for (const f of this.#ssmFleets.values()) f.close();
    this.#ssmFleets.clear();
  }

  /** Shutdown: every connection cut at once (a frozen node cannot hold the process open), the pool emptied. */
  destroyAll(): void {
    this.#shutDown = true;
    const all = [...this.#byNode.values()];
    this.#byNode.clear();
    for (const { transport } of all) {
      if (transport.destroy) transport.destroy();
      else void transport.close();
    }
    for (const f of this.#ssmFleets.values()) f.close();
    this.#ssmFleets.clear();
  }

  /**
   * Forget every node not in `names` (gone from the inventory): its connection is closed, so a
   * removed node holds no socket and no sshd session. Returns the names forgotten.
   */
  retain(names: Iterable<string>): string[] {
    const keep = new Set(names);
    const gone = [...this.#byNode.keys()].filter((n) => !keep.has(n));
    for (const name of gone) {
      void this.#byNode.get(name)!.transport.close();
      this.#byNode.delete(name);
    }
    return gone;
  }

  /** How many nodes have a transport here (open or not). */
  get size(): number {
    return this.#byNode.size;
  }

  #options(node: NodeSpec): TransportOptions {
    if (node.problem) return { problem: node.problem };
    if (node.connection === 'local') return { local: true };
    if (node.connection === 'ssm') {
      const t = node.ssm ?? { instanceId: node.host };
      const region = t.region ?? (this.settings.ssmRegion || undefined);
      const outputS3 = this.settings.ssmOutputS3;
      return { ssm: { instanceId: t.instanceId, ...(region ? { region } : {}), ...(t.profile ? { profile: t.profile } : {}), ...(outputS3 ? { outputS3 } : {}), ...this.settings.ssmPoll } };
    }
    const s = this.settings;
    return {
      host: node.host,
      port: node.port,
      user: node.user ?? s.user,
      privateKeyFile: node.privateKeyFile ?? (s.privateKeyFile || undefined),
      agentSocket: s.agentSocket || undefined,
      knownHostsFile: s.knownHostsFile,
      acceptNewHostKeys: s.acceptNewHostKeys,
      connectTimeoutMs: s.connectTimeoutMs,
    };
  }

  #make(node: NodeSpec, opts: TransportOptions): Transport {
    if ('local' in opts) return new LocalTransport();
    if ('ssm' in opts) {
      const { instanceId, ...settings } = opts.ssm;
      const key = JSON.stringify(settings);
      let fleet = this.#ssmFleets.get(key);
      if (!fleet) this.#ssmFleets.set(key, (fleet = new SsmFleet(settings)));
      return new SsmTransport(fleet, instanceId);
    }
    if ('problem' in opts) return new UnsupportedTransport(opts.problem);
    return new SshTransport(opts);
  }
}

/** A node that cannot be reached as configured: every call fails with the reason (status `error`). */
class UnsupportedTransport implements Transport {
  constructor(private readonly why: string) {}
  async exec(): Promise<never> {
    throw new TransportError('config', this.why);
  }
  async openStreamLocal(): Promise<never> {
    throw new TransportError('config', this.why);
  }
  async close(): Promise<void> {}
}
