import { launch, type Command } from '../command.js';
import { runHub } from '../hub.js';

/** `edgefleet hub`: cli/hub.ts runs it. */
export const hub: Command = {
  name: 'hub',
  summary: 'run the scheduled handlers and HTTP routes of serverless.yml until SIGTERM or SIGINT',
  description: 'collectAll runs every hub.intervalSeconds; the other schedules at their serverless.yml rate.',
  flags: [
    { name: 'interval', type: 'string', value: 'SECONDS', help: 'seconds between collectAll rounds', key: 'hub.intervalSeconds' },
    { name: 'port', type: 'string', value: 'PORT', help: 'HTTP port', key: 'hub.port' },
    { name: 'host', type: 'string', value: 'ADDRESS', help: 'HTTP address (beyond loopback, routes need an API key)', key: 'hub.host' },
  ],
  examples: ['edgefleet hub --interval 30 --port 8070'],
  logLevel: 'info',
  run: () => {
    stopWithParent();
    return runHub();
  },
};

/**
 * `npx edgefleet hub` and `npm run` put `sh -c` between the launcher and this process; a SIGTERM
 * to the launcher kills it and the shell but never reaches us, and the hub would go on serving,
 * re-parented to PID 1. So a hub whose parent went away stops as on SIGTERM. Under systemd or as
 * a container's PID 1 the parent never changes.
 */
function stopWithParent(): void {
  const parent = launch.parentPid;
  let sentWith = -1;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    const listeners = process.listenerCount('SIGTERM');
    // Once; again if the hub's handler came after the first (it listens once it serves), then
    // the process exits by the hub's own shutdown deadline.
    if (sentWith >= 0 && listeners <= sentWith) return;
    if (sentWith >= 0) clearInterval(watch);
    sentWith = listeners;
    process.kill(process.pid, 'SIGTERM');
  }, 250);
  watch.unref();
}
