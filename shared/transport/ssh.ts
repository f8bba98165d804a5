import { existsSync, readFileSync } from 'node:fs';
import { NodeSSH } from 'node-ssh';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { knownKeys, verifyHostKey } from './knownHosts.js';
import { ShellSession, type ShellChannel } from './shellSession.js';
import { OutputBudget, TransportError, type ExecOptions, type ExecResult, type Transport } from './transport.js';

export interface SshOptions {
  host: string;
  port: number;
  user: string;
  /** A private key file; else the agent; else ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
  privateKeyFile?: string;
  agentSocket?: string;
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  connectTimeoutMs: number;
}

// ssh2's own preference, reordered per host so the types known_hosts holds come first (as OpenSSH does).
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const home = process.env.HOME ?? '/root';
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((k) => `${home}/.ssh/${k}`);

/**
 * One persistent SSH connection to a node (node-ssh over ssh2), opened on first use and
 * reused by every later command; a dropped or timed-out connection is opened again on the
 * next command. Host keys are checked against known_hosts before any credential is sent.
 */
export class SshTransport implements Transport {
  #ssh?: NodeSSH;
  #connecting?: Promise<Client>;
  /** A connection still in its handshake, so destroy() can cut it too (a node that accepts TCP and never speaks SSH). */
  #handshaking?: NodeSSH;
  #shell?: ShellSession;

  constructor(readonly opts: SshOptions) {}

  async exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    const client = await this.#connection();
    return new Promise((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      // Ends this command only: the connection stays for the node's other channels (pulls,
      // tunnels). KILL reaches the remote command (sshd signals its process group, OpenSSH ≥ 7.9);
      // closing the channel also hangs up its pipes for an older sshd.
      const end = (error: TransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (channel) {
          try {
            channel.signal('KILL');
          } catch {
            /* the channel is already gone */
          }
          channel.close();
        }
        reject(error);
      };
      const out: Buffer[] = [];
      const timer = setTimeout(
        () => end(new TransportError('timeout', `command timed out after ${opts.timeoutMs} ms on ${this.#where()}`, { partialStdout: Buffer.concat(out).toString('utf8') })),
        opts.timeoutMs,
      );
      client.exec(command, (err, ch) => {
        if (err) {
          clearTimeout(timer);
          this.#drop();
          settled = true;
          reject(new TransportError('exec', `cannot run a command on ${this.#where()}: ${err.message}`, { cause: err }));
          return;
        }
        channel = ch;
        if (settled) {
          // Timed out before the channel opened: nobody reads it.
          ch.close();
          return;
        }
        const budget = new OutputBudget(opts);
        const errOut: Buffer[] = [];
        const take = (into: Buffer[]) => (b: Buffer) => {
          if (settled) return;
          const over = budget.add(b);
          if (over) end(new TransportError('output', `${over} from ${this.#where()}: cut off, nothing kept`));
          else into.push(b);
        };
        ch.on('data', take(out));
        ch.stderr.on('data', take(errOut));
        ch.on('close', (code: number | null | undefined, signal: string | undefined) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          // Neither an exit status nor a signal: sshd or the link died under the command.
          if (code === undefined && signal === undefined) {
            reject(new TransportError('unreachable', `the connection to ${this.#where()} closed before the command ended: its output is not kept`));
            return;
          }
          resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8'), code: code ?? null });
        });
      });
    });
  }

  /**
   * A channel to a unix socket on the node over the same connection (OpenSSH's
   * `direct-streamlocal@openssh.com`, as `ssh -L port:/path` opens; sshd's
   * AllowStreamLocalForwarding, on by default). The login user needs the right to open it.
   */
  async openStreamLocal(socketPath: string, opts: { timeoutMs?: number } = {}): Promise<Duplex> {
    const client = await this.#connection();
    const timeoutMs = opts.timeoutMs ?? this.opts.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TransportError('timeout', `opening ${socketPath} on ${this.#where()} timed out after ${timeoutMs} ms`)), timeoutMs);
      client.openssh_forwardOutStreamLocal(socketPath, (err, ch) => {
        clearTimeout(timer);
        if (err) reject(new TransportError('exec', `cannot open ${socketPath} on ${this.#where()}: ${err.message}`, { cause: err }));
        else resolve(ch);
      });
    });
  }

  /**
   * The node's long-lived shell (shellSession.ts: `exec sh` on a channel of this connection),
   * for the probe each round; undefined while a request runs in it (the caller opens a channel).
   */
  shellSession(): ShellSession | undefined {
    this.#shell ??= new ShellSession(() => this.#openShell(), this.#where(), async () => void (await this.#connection()));
    return this.#shell.busy ? undefined : this.#shell;
  }

  async #openShell(): Promise<ShellChannel> {
    const client = await this.#connection();
    return new Promise((resolve, reject) => {
      client.exec('exec sh', (err, ch) => {
        if (err) {
          this.#drop();
          reject(new TransportError('exec', `cannot start a shell on ${this.#where()}: ${err.message}`, { cause: err }));
          return;
        }
        resolve({
          write: (text) => ch.write(text),
          onStdout: (f) => ch.on('data', f),
          onStderr: (f) => ch.stderr.on('data', f),
          onClose: (f) => ch.on('close', f),
          // As exec's end: KILL reaches the shell's process group (what it started), closing hangs up its pipes.
          kill: () => {
            try {
              ch.signal('KILL');
            } catch {
              /* the channel is already gone */
            }
            ch.close();
          },
        });
      });
    });
  }

  async close(): Promise<void> {
    this.#drop();
  }

  destroy(): void {
    // end() (in #drop) waits for the node to close its side; destroy() frees the socket now.
    this.#ssh?.connection?.destroy();
    this.#handshaking?.connection?.destroy();
    this.#drop();
  }

  #where(): string {
    return `${this.opts.user}@${this.opts.host}:${this.opts.port}`;
  }

  #drop(): void {
    this.#shell?.close();
    this.#ssh?.dispose();
    this.#ssh = undefined;
    this.#connecting = undefined;
  }

  #connection(): Promise<Client> {
    if (this.#ssh?.isConnected() && this.#ssh.connection) return Promise.resolve(this.#ssh.connection);
    this.#connecting ??= this.#connect().catch((e: unknown) => {
      this.#connecting = undefined;
      throw e;
    });
    return this.#connecting;
  }

  async #connect(): Promise<Client> {
    const o = this.opts;
    let hostKeyRefusal: string | undefined;
    const knownTypes = new Set(knownKeys(o.knownHostsFile, o.host, o.port).map((k) => (k.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [k.keyType])).flat());
    const serverHostKey = [...HOST_KEY_ALGORITHMS.filter((a) => knownTypes.has(a)), ...HOST_KEY_ALGORITHMS.filter((a) => !knownTypes.has(a))];
    const credentials = this.#credentials();
    const ssh = new NodeSSH();
    this.#handshaking = ssh;
    try {
      await ssh.connect({
        host: o.host,
        port: o.port,
        username: o.user,
        ...credentials,
        readyTimeout: o.connectTimeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 3,
        algorithms: { serverHostKey: serverHostKey as never },
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(o.knownHostsFile, o.host, o.port, key, o.acceptNewHostKeys);
          if (!verdict.ok) hostKeyRefusal = verdict.reason;
          return verdict.ok;
        },
      });
    } catch (e) {
      ssh.dispose();
      const msg = hostKeyRefusal ?? (e as Error).message;
      throw new TransportError('unreachable', `cannot connect to ${this.#where()}: ${msg}`, { cause: e });
    } finally {
      if (this.#handshaking === ssh) this.#handshaking = undefined;
    }
    // Without it every command after the first waits ~40 ms for Nagle's algorithm and delayed ACKs.
    ssh.connection!.setNoDelay(true);
    ssh.connection!.on('close', () => {
      if (this.#ssh === ssh) this.#drop();
    });
    // Errors after connecting (a reset link) surface as 'close'; without a listener they would crash the process.
    ssh.connection!.on('error', () => {});
    this.#ssh = ssh;
    return ssh.connection!;
  }

  #credentials(): { privateKey?: string; agent?: string } {
    const o = this.opts;
    if (o.privateKeyFile) {
      try {
        return { privateKey: readFileSync(o.privateKeyFile, 'utf8'), agent: o.agentSocket || undefined };
      } catch (e) {
        throw new TransportError('config', `cannot read private key ${o.privateKeyFile}: ${(e as Error).message}`, { cause: e });
      }
    }
    if (o.agentSocket) return { agent: o.agentSocket };
    const found = DEFAULT_KEYS.find((k) => existsSync(k));
    if (found) return { privateKey: readFileSync(found, 'utf8') };
    // Nothing to try with is a setup error (status error, exit 1), not a network one.
    throw new TransportError('config', `no credentials for ${this.#where()}: set ansible_ssh_private_key_file, ssh.privateKeyFile or an ssh-agent`);
  }
}
