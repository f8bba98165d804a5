import type { ProbeRoots } from '../collect/probes.js';

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
  for (const [root, canonical] of [
    [roots.procRoot, '/proc'],
    [roots.sysRoot, '/sys'],
  ] as const) {
    const r = root.replace(/\/+$/, '');
    if (path === r) return canonical;
    if (path.startsWith(r + '/')) return canonical + path.slice(r.length);
  }
  return path;
}
