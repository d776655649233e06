// Waits for a condition the test cannot be told about directly (a reconnect with backoff, a
// background retry): polls it, for at most `timeoutMs`, then fails naming what did not happen.

export async function eventually(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
