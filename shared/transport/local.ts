import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { TransportError, type ExecResult, type Transport } from './transport.js';

/** `ansible_connection=local`: the hub itself, through /bin/sh. */
export class LocalTransport implements Transport {
  exec(command: string, opts: { timeoutMs: number }): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      // detached: the shell leads its own process group, so a timeout kills its children too.
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
        reject(new TransportError('timeout', `command timed out after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new TransportError('exec', `cannot run /bin/sh: ${e.message}`, { cause: e }));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code });
      });
    });
  }

  /** The hub's own unix socket. */
  openStreamLocal(socketPath: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const sock = connect(socketPath);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(sock);
      });
      sock.once('error', (e) => reject(new TransportError('unreachable', `cannot open ${socketPath}: ${e.message}`, { cause: e })));
    });
  }

  async close(): Promise<void> {}
}
