/**
 * Waits for `condition` to hold, polling; throws naming `what` past the deadline. The deadline is
 * a generous bound for a loaded machine, never a margin a test's result depends on.
 */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
