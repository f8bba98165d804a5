import { randomBytes } from 'node:crypto';
import { OutputBudget, TransportError, type ExecOptions, type ExecResult } from './transport.js';

/** What a session runs on: a channel whose stdin feeds one `sh` on the node (an SSH exec channel of `exec sh`). */
export interface ShellChannel {
  write(text: string): void;
  onStdout(f: (b: Buffer) => void): void;
  onStderr(f: (b: Buffer) => void): void;
  /** The channel ended (the shell exited, sshd or the link died). */
  onClose(f: () => void): void;
  /** End the shell and everything it started (SSH: signal KILL to its process group, then close). */
  kill(): void;
}

/** Definitions one session keeps before it is replaced by a fresh shell: the shell's memory stays bounded. */
export const MAX_SESSION_SETUPS = 16;

/** Header of the line the session prints after each request: `==> edgefleet-shell-end TOKEN rc=N <==`. */
const SHELL_END = 'edgefleet-shell-end';

/**
 * One long-lived `sh` on the node, fed requests on its stdin one at a time: a request costs
 * neither a channel (sshd forks a session for each) nor a shell start, the dearest part of a
 * short command on the node. Each request is one line, `{ COMMAND; } </dev/null` (nothing it
 * runs can read the requests that follow), then a line printing a random token and `$?`: the
 * output up to it is the request's, and `rc` its exit status. Definitions (`setup`, shell
 * functions) are sent once per session, before the first request that needs them.
 *
 * A request that overruns its timeout or passes the caps ends the whole shell (and what it
 * started) and fails as an exec would (`timeout` with what arrived before, `output`); a channel
 * that closes mid-request fails `unreachable`. The next request opens a new shell.
 */
export class ShellSession {
  #channel?: Promise<ShellChannel>;
  #defined = new Set<string>();
  #busy = false;
  /** The request now running: where the channel's output goes. */
  #sink?: { stdout(b: Buffer): void; stderr(b: Buffer): void; closed(): void };

  /**
   * `connect`: reach the node first (bounded by its own connect timeout, failing as a command on
   * it would: unreachable); the request's timeout counts from then, as a command's does.
   */
  constructor(
    private readonly open: () => Promise<ShellChannel>,
    private readonly where: string,
    private readonly connect: () => Promise<void> = async () => {},
  ) {}

  /** A request is running: the caller runs its command another way (a channel of its own). */
  get busy(): boolean {
    return this.#busy;
  }

  /** Run `command` (one line of sh, no newline) after `setup` (sent once per session). */
  async run(setup: string | undefined, command: string, opts: ExecOptions): Promise<ExecResult> {
    if (this.#busy) throw new Error('shell session busy');
    if (command.includes('\n')) throw new RangeError('a session request is one line');
    this.#busy = true;
    try {
      await this.connect();
      return await this.#run(setup, command, opts);
    } finally {
      this.#busy = false;
    }
  }

  /** Ends the shell; the next request opens another. */
  close(): void {
    const ch = this.#channel;
    const sink = this.#sink;
    this.#channel = undefined;
    this.#defined.clear();
    void ch?.then((c) => c.kill(), () => {});
    // A request still running in it (the connection was dropped under it) fails now, not at its timeout.
    sink?.closed();
  }

  #run(setup: string | undefined, command: string, opts: ExecOptions): Promise<ExecResult> {
    // Too many definitions for one shell: a fresh one for this request.
    if (setup !== undefined && !this.#defined.has(setup) && this.#defined.size >= MAX_SESSION_SETUPS) this.close();
    const token = randomBytes(8).toString('hex');
    const end = Buffer.from(`\n==> ${SHELL_END} ${token} rc=`);
    return new Promise((resolve, reject) => {
      let settled = false;
      const out: Buffer[] = [];
      let outBytes = 0;
      /** The last bytes seen, where a marker cut between two chunks starts. */
      let tail: Buffer = Buffer.alloc(0);
      const err: Buffer[] = [];
      const budget = new OutputBudget(opts);
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        this.#sink = undefined;
      };
      const fail = (error: TransportError, kill: boolean) => {
        if (settled) return;
        settle();
        // Whatever the shell is doing now is not ours to keep: it goes, and its definitions with it.
        if (kill) this.close();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new TransportError('timeout', `command timed out after ${opts.timeoutMs} ms on ${this.where}`, { partialStdout: Buffer.concat(out).toString('utf8') }), true),
        opts.timeoutMs,
      );
      this.#sink = {
        stdout: (b) => {
          if (settled) return;
          const over = budget.add(b);
          if (over) return fail(new TransportError('output', `${over} from ${this.where}: cut off, nothing kept`), true);
          out.push(b);
          outBytes += b.length;
          // Only the new chunk and the bytes before it that a marker could start in are searched: linear in the output.
          const win = tail.length ? Buffer.concat([tail, b]) : b;
          const at = win.indexOf(end);
          // The line is whole only with its ` <==\n`: `rc=N <==\n`.
          const rc = at < 0 ? null : /^(\d{1,3}) <==\n/.exec(win.toString('latin1', at + end.length, Math.min(win.length, at + end.length + 9)));
          if (!rc) {
            tail = win.subarray(Math.max(0, win.length - end.length - 12));
            return;
          }
          settle();
          resolve({ stdout: Buffer.concat(out, outBytes).toString('utf8', 0, outBytes - win.length + at), stderr: Buffer.concat(err).toString('utf8'), code: Number(rc[1]) });
        },
        stderr: (b) => {
          if (settled) return;
          const over = budget.add(b);
          if (over) fail(new TransportError('output', `${over} from ${this.where}: cut off, nothing kept`), true);
          else err.push(b);
        },
        closed: () => fail(new TransportError('unreachable', `the connection to ${this.where} closed before the command ended: its output is not kept`), false),
      };
      this.#channelOpen().then(
        (ch) => {
          if (settled) return;
          let text = '';
          if (setup !== undefined && !this.#defined.has(setup)) {
            this.#defined.add(setup);
            text = `${setup}\n`;
          }
          ch.write(`${text}{ ${command}\n} </dev/null; printf '\\n==> ${SHELL_END} %s rc=%s <==\\n' ${token} $?\n`);
        },
        (e: unknown) => fail(e instanceof TransportError ? e : new TransportError('exec', `cannot start a shell on ${this.where}: ${(e as Error).message}`, { cause: e }), false),
      );
    });
  }

  #channelOpen(): Promise<ShellChannel> {
    if (this.#channel) return this.#channel;
    this.#defined.clear();
    // A channel ended by close() may still deliver what it had sent: only the current one feeds the request.
    const current = () => this.#channel === opening;
    const opening: Promise<ShellChannel> = this.open().then((ch) => {
      ch.onStdout((b) => current() && this.#sink?.stdout(b));
      ch.onStderr((b) => current() && this.#sink?.stderr(b));
      ch.onClose(() => {
        if (!current()) return;
        this.#channel = undefined;
        this.#defined.clear();
        this.#sink?.closed();
      });
      return ch;
    });
    this.#channel = opening;
    // A shell that could not start is not kept: the next request tries again.
    opening.catch(() => {
      if (this.#channel === opening) this.#channel = undefined;
    });
    return opening;
  }
}
