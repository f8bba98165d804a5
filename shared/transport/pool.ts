import type { NodeSpec } from '../domain/index.js';
import { LocalTransport } from './local.js';
import { SshTransport, type SshOptions } from './ssh.js';
import { TransportError, type Transport } from './transport.js';

type TransportOptions = SshOptions | { local: true } | { ssm: true };

export interface TransportSettings {
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  privateKeyFile: string;
  agentSocket: string;
  user: string;
  connectTimeoutMs: number;
}

/**
 * Connections are a cache, never the truth: one per node per process, reused across rounds
 * (a warm Lambda, the hub), replaced when the node's connection vars change.
 */
export class TransportPool {
  readonly #byNode = new Map<string, { key: string; transport: Transport }>();

  constructor(private readonly settings: TransportSettings) {}

  get(node: NodeSpec): Transport {
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
  }

  #options(node: NodeSpec): TransportOptions {
    if (node.connection === 'local') return { local: true };
    if (node.connection === 'ssm') return { ssm: true };
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
    if ('ssm' in opts) return new UnsupportedTransport(`host ${node.name}: the aws_ssm connection is not available yet`);
    return new SshTransport(opts);
  }
}

class UnsupportedTransport implements Transport {
  constructor(private readonly why: string) {}
  async exec(): Promise<never> {
    throw new TransportError('exec', this.why);
  }
  async close(): Promise<void> {}
}
