/**
 * Polling for tests that wait on something outside them (a hub process, Prometheus): `check`
 * is asked every `everyMs` until it gives a value — anything but `undefined` or `false` — and
 * that value is returned. After `ms` it fails with `<what>: not within <ms> ms` and, when given,
 * `detail()` (a hub's stderr, Prometheus' log), so a timeout says what was running.
 */
export async function until<T>(
  what: string,
  ms: number,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  o: { everyMs?: number; detail?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${o.detail ? `\n${o.detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, o.everyMs ?? 100));
  }
}
