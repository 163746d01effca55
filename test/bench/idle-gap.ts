// Benchmark (not a test): what an idle gap alone adds to a warm call through the full stack on this
// machine, the baseline for the router's phases of a start (start-path.ts): a start's call always
// follows an idle gap, the warm rows of lifecycle.ts never do. Writes back to back, then after gaps
// shorter and longer than the route's freshness (500 ms: the longer gap adds the epoch's touch),
// the gaps' order repeated. Asserts nothing; everything it creates lives in its own namespace.
//   node test/bench/idle-gap.ts [--calls 12]
import { write } from '../support/mcp-client.ts';
import { benchTenant } from './lifecycle-lane.ts';
import { startTestStack } from '../support/stack.ts';
import { printFigures } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, { options: { calls: { type: 'string', default: '12' } } });
const CALLS = Math.min(100, Number(values.calls));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const stack = await startTestStack('bench-idle-gap', { supervisor: { healthIntervalMs: 3_600_000 } });
try {
  const id = 'gap-0';
  const client = await benchTenant(stack, id);
  for (let i = 0; i < 30; i++) await write(client, `warmup-${i}`);
  const samples = new Map<number, number[]>();
  for (const gap of [0, 300, 700, 0, 300, 700])
    for (let i = 0; i < CALLS; i++) {
      if (gap > 0) await sleep(gap);
      const outcome = await write(client, `gap-${gap}-${i}`);
      // A refused write is answered by the router alone: timed, it would pass for a fast write.
      if (!outcome.ok) throw new Error(`a measured write was refused: ${JSON.stringify(outcome.error)}`);
      samples.set(gap, [...(samples.get(gap) ?? []), outcome.ms]);
    }
  for (const [gap, ms] of samples)
    printFigures(gap === 0 ? 'warm write, back to back' : `warm write after ${gap} ms idle`, ms, {
      digits: 2,
    });
  await client.close();
} finally {
  await stack.close();
}
