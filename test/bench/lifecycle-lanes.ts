// The lanes of test/bench/lifecycle.ts: one full test stack each (this tree's supervisor, or a
// baseline's: another image, NanoCpus, or no start-time CPU boost), with the supervisor's own
// measure of each start read from its 'runtime ready' log line.
import { pino, type Logger } from 'pino';
import { startTestStack, type TestStack } from '../support/stack.ts';
import type { NanoCpusDocker } from './nanocpus-docker.ts';

/** The supervisor's own measure of each start: its 'runtime ready' log line (ms). */
export function readyLog(): { logger: Logger; taken: () => number | undefined } {
  const ready: number[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        if (line.includes('"runtime ready"')) ready.push((JSON.parse(line) as { ms: number }).ms);
      },
    },
  );
  return { logger, taken: () => ready.pop() };
}

export interface Lane {
  name: string;
  stack: TestStack;
  taken: () => number | undefined;
  figures: Record<
    'coldFirst' | 'coldKept' | 'fromStopped' | 'fromPaused',
    { call: number[]; ready: number[]; throttled: number[] }
  >;
}

export async function lane(
  name: string,
  image: string,
  options: { docker?: NanoCpusDocker | undefined; noBoost?: boolean } = {},
): Promise<Lane> {
  const { logger, taken } = readyLog();
  const stack = await startTestStack(`bench-${name}`, {
    image,
    logger,
    supervisor: {
      healthIntervalMs: 3_600_000,
      createLimit: 4,
      docker: options.docker,
      // Every start boosted (not only a tenant's first in a minute): the rows are each a start.
      ...(options.noBoost ? { startCpuBoost: 0 } : { startCpuBoostIntervalMs: 0 }),
    },
  });
  const figure = () => ({ call: [], ready: [], throttled: [] });
  return {
    name,
    stack,
    taken,
    figures: { coldFirst: figure(), coldKept: figure(), fromStopped: figure(), fromPaused: figure() },
  };
}
