import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { OutputBudget, TransportError, type ExecOptions, type ExecResult, type Transport } from './transport.js';

/** `ansible_connection=local`: the hub itself, through /bin/sh. */
export class LocalTransport implements Transport {
  exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      // detached: the shell leads its own process group, so a timeout kills its children too.
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const budget = new OutputBudget(opts);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const end = (error: TransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
        // Stop reading at once: what is still in the pipes is not ours to keep.
        child.stdout.destroy();
        child.stderr.destroy();
        reject(error);
      };
      const take = (into: Buffer[]) => (b: Buffer) => {
        if (settled) return;
        const over = budget.add(b);
        if (over) end(new TransportError('output', `${over} from the hub's own shell: cut off, nothing kept`));
        else into.push(b);
      };
      child.stdout.on('data', take(out));
      child.stderr.on('data', take(err));
      const timer = setTimeout(
        () => end(new TransportError('timeout', `command timed out after ${opts.timeoutMs} ms`, { partialStdout: Buffer.concat(out).toString('utf8') })),
        opts.timeoutMs,
      );
      child.on('error', (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new TransportError('exec', `cannot run /bin/sh: ${e.message}`, { cause: e }));
      });
      child.on('close', (code) => {
        if (settled) return;
        settled = true;
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
