// Waiting in a test for a state that other work brings about where no event announces it (a counter
// of the code under test, a key in Redis, a container's log): asked again every `everyMs` until it
// holds. What bounds the wait is a count of asks worth WAIT_BOUND_MS, longer than a test's own
// timeout (vitest.config.ts): a loaded machine makes such a test slower, never failed, where a
// deadline of a few seconds failed it; a state that never comes fails the test at its timeout, and
// the loop still stops by itself soon after, naming what it waited for.
const WAIT_BOUND_MS = 90_000;

/** Resolves once `check()` holds; `what` names the state in the error of a wait that ran out. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  everyMs = 10,
): Promise<void> {
  for (let asked = 0; asked * everyMs < WAIT_BOUND_MS; asked++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`waited ${WAIT_BOUND_MS} ms of asks for ${what}`);
}
