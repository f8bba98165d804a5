import { createServer, request, type Server } from 'node:http';
import { freePort } from './ports.js';

/**
 * A registry as slow as a far one: an HTTP proxy in front of the test registry that sends each
 * blob at `bytesPerSecond`, so a pull lasts seconds and its progress can be watched. It notes
 * when it sent a blob's last byte: the end of a pull as the registry saw it, not as edgefleet says.
 */
export interface SlowProxy {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Date.now() when each blob GET's last byte was written. */
  blobEndsMs: number[];
  close(): Promise<void>;
}

export async function startSlowProxy(target: string, bytesPerSecond: number): Promise<SlowProxy> {
  const to = new URL(target);
  const blobEndsMs: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const blob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
      if (!blob) return void ur.pipe(res);
      // 16 KiB slices, each after the time the rate allows.
      const slice = 16 * 1024;
      const queue: Buffer[] = [];
      let ended = false;
      let sending = false;
      const next = () => {
        const b = queue.shift();
        if (!b) {
          sending = false;
          if (ended) {
            blobEndsMs.push(Date.now());
            res.end();
          }
          return;
        }
        sending = true;
        res.write(b);
        const t = setTimeout(() => (timers.delete(t), next()), (1000 * b.length) / bytesPerSecond);
        timers.add(t);
      };
      ur.on('data', (c: Buffer) => {
        for (let i = 0; i < c.length; i += slice) queue.push(c.subarray(i, i + slice));
        if (!sending) next();
      });
      ur.on('end', () => {
        ended = true;
        if (!sending) next();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    blobEndsMs,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
