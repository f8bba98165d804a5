import type { MetricKind } from '../domain/index.js';
import { probeEnd, splitProbeOutput } from '../parse/probeOutput.js';
import { TransportError, type ExecOptions, type Transport } from '../transport/index.js';
import { probeCommand, probeScript, type ProbeOptions, type ProbeRoots } from './probes.js';

/** How the probe's df ended, for the storage collector. */
export interface DfOutcome {
  /** df's exit status (the command's); 137 or null (a signal) when the node's bound killed it. */
  exitStatus: number | null;
  /** The hub's command timeout ended df (no bound on the node yet). */
  timedOut: boolean;
  /** Whether df ran under the node's bound, and that bound. */
  bounded: boolean;
  boundSeconds: number;
  commandTimeoutSeconds: number;
  /** false: the probe left `df -Pi` out (the inodes kind was not due on this node); absent: it ran. */
  inodes?: boolean;
}

export interface ProbeRun {
  /** The node's files by canonical path, and df's section. */
  files: Map<string, string>;
  df: DfOutcome;
}

/**
 * Run the probe on a node and keep what is complete: the files only when this round's marker
 * follows them (else ParseError "output cut off"), df's section only when the command ended on
 * its own. A command timeout after the marker means df hung: the files are kept, df is not.
 * Any other failure (no connection, output over the caps, a timeout before the marker) throws.
 */
export async function runProbe(transport: Transport, kinds: readonly MetricKind[], roots: ProbeRoots, probe: ProbeOptions, exec: ExecOptions, shellSession = true): Promise<ProbeRun> {
  const df = { timedOut: false, bounded: probe.boundDf === true, boundSeconds: probe.dfTimeoutSeconds, commandTimeoutSeconds: exec.timeoutMs / 1000, inodes: probe.inodes !== false && kinds.includes('inodes') };
  try {
    // The node's long-lived shell where the transport keeps one (no channel, no shell start); else a command of its own.
    const session = shellSession ? transport.shellSession?.() : undefined;
    const script = session && probeScript(kinds, roots, probe);
    const { stdout, code } = session && script ? await session.run(script.setup, script.call, exec) : await transport.exec(probeCommand(kinds, roots, probe), exec);
    return { files: splitProbeOutput(probeEnd(stdout, probe.nonce, code).body, roots), df: { ...df, exitStatus: code } };
  } catch (e) {
    if (!(e instanceof TransportError && e.kind === 'timeout' && e.partialStdout !== undefined && (kinds.includes('storage') || kinds.includes('inodes')))) throw e;
    let body: string;
    try {
      body = probeEnd(e.partialStdout, probe.nonce, null).body;
    } catch {
      throw e; // stalled before the marker: a timeout of the whole probe
    }
    return { files: splitProbeOutput(body, roots), df: { ...df, exitStatus: null, timedOut: true } };
  }
}
