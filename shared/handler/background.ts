/**
 * Work a handler started and did not wait for (POST /deployments answers at once). The hub and
 * the CLI wait for it before closing the database and connections; its progress is in the
 * store, never only here.
 */
const running = new Set<Promise<unknown>>();

export function runInBackground(work: () => Promise<unknown>, onError: (e: Error) => void): void {
  const p = Promise.resolve()
    .then(work)
    .catch((e: unknown) => onError(e as Error))
    .finally(() => running.delete(p));
  running.add(p);
}

/** Resolves once every piece of background work has ended. */
export async function backgroundSettled(): Promise<void> {
  while (running.size) await Promise.allSettled([...running]);
}
