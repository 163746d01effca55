// Benchmark (not a test): what a pack flooding its stdout with small notifications costs the
// runtime's process. The pack host runs on this machine (no container) with the faulty test pack,
// in a fresh Node process per run; after a warm call its peak RSS is reset (/proc/self/clear_refs),
// then one call to a flooding tool (about 6 MiB of log notifications of about 100 bytes, then its
// answer) goes through the runtime's call path. Prints, per tool, the peak RSS during the call
// above the RSS before it, and whether the call was answered.
//   flood         plain notifications
//   masked_flood  each carrying an "id" member (not to be told from an answer without a parse)
// Asserts nothing; every run is bounded by the call timeout; its directory is removed.
//   node test/bench/pack-flood.ts [--runs 3]
// (--child TOOL is how each run's fresh process is started: one call to TOOL, its figures printed.)
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import { hostCaller, hostPacks } from '../support/pack-host.ts';
import { approvePack } from '../support/pack-image.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { runs: { type: 'string', default: '3' }, child: { type: 'string' } },
});
const RUNS = Math.min(10, Number(values.runs));
const TOOLS = (process.env.TOOLS ?? 'flood,masked_flood').split(',');

/** VmRSS and VmHWM (peak) of this process, in MiB. */
function rss(): { now: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { now: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** One run in this process: a warm call, the peak reset, the flooding call. Prints JSON. */
async function child(tool: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pack-flood-'));
  try {
    // The runtime's default message bound (BULKHEAD_PACK_MAX_MESSAGE_BYTES), and its line budget.
    const host = await hostPacks(dir, [await approvePack('faulty')], {
      callTimeoutMs: 60_000,
      maxMessageBytes: 4 * 1024 * 1024,
    });
    await host.start();
    const keys = new PackKeys(join(dir, 'keys.db'), { idempotencyWindowMs: 60_000 });
    const { call, relayed } = hostCaller(host, keys, 60_000);
    await call('faulty_ok');
    const before = rss();
    writeFileSync('/proc/self/clear_refs', '5');
    const started = performance.now();
    const answer = (await call(`faulty_${tool}`)) as { structuredContent?: { ok?: boolean } };
    const ms = performance.now() - started;
    const after = rss();
    process.stdout.write(
      `${JSON.stringify({ before: before.now, peak: after.peak, answered: answer.structuredContent?.ok === true, relayed: relayed(), ms })}\n`,
    );
    keys.close();
    await host.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (values.child) {
  await child(values.child);
} else {
  const run = promisify(execFile);
  for (const tool of TOOLS) {
    for (let i = 0; i < RUNS; i++) {
      const { stdout } = await run(process.execPath, [import.meta.filename, '--child', tool]);
      const r = JSON.parse(stdout) as {
        before: number;
        peak: number;
        answered: boolean;
        relayed: number;
        ms: number;
      };
      console.log(
        `${tool.padEnd(13)} run ${i + 1}: RSS before ${r.before.toFixed(0)} MiB, peak during the call ` +
          `+${(r.peak - r.before).toFixed(0)} MiB; answered: ${r.answered}; relayed ${r.relayed}; ${r.ms.toFixed(0)} ms`,
      );
    }
  }
}
