// Runs a task every `intervalMs`, never two at once, until stopped. A failed pass is logged once
// and the next pass tries again: the loops heal, they do not die.
import type { Logger } from 'pino';

export function every(
  name: string,
  intervalMs: number,
  task: () => Promise<unknown>,
  logger: Logger,
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch((error: unknown) => logger.warn({ err: error, loop: name }, 'periodic pass failed'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
