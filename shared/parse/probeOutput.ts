import { FILES_END, type ProbeRoots } from '../collect/probes.js';
import { ParseError } from './errors.js';

/** A probe's output found complete: its files, and how its df ended. */
export interface ProbeEnd {
  /** The output without the marker line, for splitProbeOutput. */
  body: string;
  /** head's exit status: 0, or 1 when a file was missing (no verdict). */
  headRc: number;
  /** The command's exit status, df's when the probe runs df (137: the node's bound killed it); null: killed by a signal. */
  exitCode: number | null;
}

/**
 * A probe's files are data only when complete: they must be followed by this round's marker
 * `\n==> edgefleet-files-end NONCE head=H <==\n` (collect/probes.ts). Anything else — a
 * channel closed mid-file, a killed shell, garbage instead of a shell's output — is rejected
 * whole ("output cut off"), never split into files; so is a head killed by a signal (H > 128:
 * what it had buffered is lost). What follows the marker is df's section, which the
 * transport's exit status completes (`exitCode`). Pure: no I/O.
 */
export function probeEnd(text: string, nonce: string, exitCode: number | null = 0): ProbeEnd {
  const lead = `\n==> ${FILES_END} ${nonce} head=`;
  const at = text.indexOf(lead);
  const m = at < 0 ? null : /^(\d{1,3}) <==\n/.exec(text.slice(at + lead.length, at + lead.length + 12));
  if (!m) {
    const last = text.length === 0 ? 'nothing at all' : `it ends with ${quoteTail(text)}`;
    throw new ParseError('probe output', `output cut off: no end marker, so nothing of it is kept (${last})`);
  }
  const headRc = Number(m[1]);
  if (headRc > 128) throw new ParseError('probe output', `output cut off: head was killed by signal ${headRc - 128} on the node, so nothing of it is kept`);
  // The marker's own newline stands for head's blank line before the next header (df's).
  // What follows can only be a whole section (df's): a cut inside its header is dropped, so that
  // it cannot run into the last file.
  const rest = text.slice(at + lead.length + m[0].length);
  const body = /^==> .* <==\n/.test(rest) ? `${text.slice(0, at)}\n${rest}` : text.slice(0, at);
  return { body, headRc, exitCode };
}

/** The last line or so of cut-off output, JSON-quoted so control bytes show. */
function quoteTail(text: string): string {
  const t = text.slice(-60);
  return JSON.stringify(text.length > 60 ? `…${t}` : t);
}

/**
 * Split a probe's output into files: `==> PATH <==` headers as `head` prints them.
 * Paths under the probe's roots come back as if the roots were `/proc` and `/sys`, so the
 * parsers never see where a node keeps its kernel files. Pure: no I/O.
 */
export function splitProbeOutput(text: string, roots: ProbeRoots): Map<string, string> {
  const files = new Map<string, string>();
  const header = /^==> (.*) <==$/gm;
  let name: string | undefined;
  let start = 0;
  const close = (end: number) => {
    if (name === undefined) return;
    // head separates files by one blank line: drop it, keep the file's own last newline.
    let body = text.slice(start, end);
    if (body.endsWith('\n\n')) body = body.slice(0, -1);
    files.set(canonicalPath(name, roots), body);
  };
  for (let m = header.exec(text); m; m = header.exec(text)) {
    close(m.index);
    name = m[1]!;
    start = m.index + m[0].length + 1;
  }
  close(text.length);
  files.delete('/dev/null');
  return files;
}

function canonicalPath(path: string, roots: ProbeRoots): string {
  // The rootfs root last: /proc and /sys may lie under it. `/` moves nothing.
  const rootfs = roots.rootfsRoot && roots.rootfsRoot.replace(/\/+$/, '') !== '' ? [[roots.rootfsRoot, '']] : [];
  for (const [root, canonical] of [
    [roots.procRoot, '/proc'],
    [roots.sysRoot, '/sys'],
    ...rootfs,
  ] as const) {
    const r = root.replace(/\/+$/, '');
    if (path === r) return canonical;
    if (path.startsWith(r + '/')) return canonical + path.slice(r.length);
  }
  return path;
}
