import type { Duplex } from 'node:stream';

/** How edgefleet reaches a node: run a command and read its output. */
export interface Transport {
  exec(command: string, opts: { timeoutMs: number }): Promise<ExecResult>;
  /**
   * A byte stream to a unix socket on the node (the container engine's API): a local
   * connection, or SSH stream-local forwarding (`ssh -L local:/run/docker.sock`). Absent on
   * transports that cannot tunnel.
   */
  openStreamLocal?(socketPath: string): Promise<Duplex>;
  /** The engine's answers arrive whole when the request ends (SSM runs each one as a command): no first byte earlier. */
  readonly answersWhole?: boolean;
  close(): Promise<void>;
  /** Cut the connection at once, without waiting for the node (shutdown: a frozen node never answers a goodbye). */
  destroy?(): void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when the command died by a signal. */
  code: number | null;
}

/**
 * `unreachable`: no connection (refused, timed out, host key refused, SSM agent offline); `timeout`: the command overran;
 * `exec`: the command could not start; `output`: its output arrived cut or damaged (never parsed);
 * `config`: the node's settings cannot work (no credentials, an unreadable key, an unusable var): the user's to fix (exit 1), not the node's.
 */
export type TransportErrorKind = 'unreachable' | 'timeout' | 'exec' | 'output' | 'config';

export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}
