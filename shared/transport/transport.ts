import type { Duplex } from 'node:stream';
import type { SsmAgentInfo } from '../domain/index.js';
import type { ShellSession } from './shellSession.js';

/** How edgefleet reaches a node: run a command and read its output. */
export interface Transport {
  exec(command: string, opts: ExecOptions): Promise<ExecResult>;
  /**
   * A byte stream to a unix socket on the node (the container engine's API): a local
   * connection, or SSH stream-local forwarding (`ssh -L local:/run/docker.sock`). Absent on
   * transports that cannot tunnel.
   */
  openStreamLocal?(socketPath: string): Promise<Duplex>;
  /** The engine's answers arrive whole when the request ends (SSM runs each one as a command): no first byte earlier. */
  readonly answersWhole?: boolean;
  /** SSM nodes: the agent as SSM last described it (version, platform, ping), for `edgefleet nodes`. */
  agentInfo?(): SsmAgentInfo | undefined;
  /**
   * A long-lived shell on the node that runs requests one at a time (shellSession.ts), so that a
   * round's probe costs no channel and no shell start; undefined while busy. Absent where the
   * transport has none (SSM runs each command as its own document, local starts /bin/sh).
   */
  shellSession?(): ShellSession | undefined;
  close(): Promise<void>;
  /** Cut the connection at once, without waiting for the node (shutdown: a frozen node never answers a goodbye). */
  destroy?(): void;
}

export interface ExecOptions {
  /** The command is ended (its channel closed, its process killed) when it runs longer. */
  timeoutMs: number;
  /** stdout and stderr together; past it the command is ended and the call fails (kind `output`). */
  maxOutputBytes?: number;
  /** Newlines in stdout and stderr together; catches a flood of short lines before the byte cap. */
  maxOutputLines?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when the command died by a signal. */
  code: number | null;
}

/**
 * `unreachable`: no connection (refused, timed out, host key refused, SSM agent offline); `timeout`: the command overran;
 * `exec`: the command could not start; `output`: its output arrived cut or damaged (never parsed),
 * or passed the caps (ExecOptions.maxOutputBytes, maxOutputLines);
 * `config`: the node's settings cannot work (no credentials, an unreadable key, an unusable var): the user's to fix (exit 1), not the node's.
 */
export type TransportErrorKind = 'unreachable' | 'timeout' | 'exec' | 'output' | 'config';

export class TransportError extends Error {
  override name = 'TransportError';
  /** For `timeout`: the stdout received before the command was ended (within the caps), for callers that can tell a complete part. */
  readonly partialStdout?: string;
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    opts?: { cause?: unknown; partialStdout?: string },
  ) {
    super(message, opts);
    if (opts?.partialStdout !== undefined) this.partialStdout = opts.partialStdout;
  }
}

/**
 * Counts a command's output against its caps as chunks arrive, so that reading stops at the
 * first chunk past them: nothing beyond the cap is kept. `over()` says which cap was passed.
 */
export class OutputBudget {
  #bytes = 0;
  #lines = 0;
  constructor(private readonly opts: ExecOptions) {}

  /** Count a chunk; the reason when it passes a cap, else undefined. */
  add(chunk: Buffer): string | undefined {
    this.#bytes += chunk.length;
    const maxBytes = this.opts.maxOutputBytes;
    if (maxBytes !== undefined && this.#bytes > maxBytes) return `output over ${maxBytes} bytes`;
    const maxLines = this.opts.maxOutputLines;
    if (maxLines !== undefined) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.#lines++;
      if (this.#lines > maxLines) return `output over ${maxLines} lines`;
    }
    return undefined;
  }
}
