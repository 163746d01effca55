// Benchmark (not a test): what a pack flooding its stdout costs the runtime's process inside a
// tenant's container on the real engine (the supervisor's docker driver: its plan's memory limit).
// For each flooding tool of the faulty test pack (test/bench/pack-flood.ts says what they write), a
// fresh tenant per run on an image FROM the runtime image with that pack: a warm call, the runtime
// process's peak RSS reset (/proc/<pid>/clear_refs), the flooding call; prints the peak RSS during
// it, the container's memory limit, and what the call got (its answer, or the error of a runtime
// gone). Compare two runtime images by running it once with each:
//   BULKHEAD_RUNTIME_IMAGE=<image> node test/bench/pack-flood-container.ts [--runs 2]
// Asserts nothing; everything lives in its own namespace and is removed.
import { approvePack, buildPackImage, removeImage } from '../support/pack-image.ts';
import { execIn, RUNTIME_IMAGE, testNamespace } from '../support/namespace.ts';
import { packTenants } from '../support/pack-tenants.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, { options: { runs: { type: 'string', default: '2' } } });
const RUNS = Math.min(5, Number(values.runs));
const TOOLS = ['flood', 'masked_flood'];

/** Run in the container: the pids of the runtime's own process and of the faulty pack's node. */
const PIDS = String.raw`
const fs = require('node:fs');
const found = {};
for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== String(process.pid)))
  try {
    const argv = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\0');
    if (argv[0] === 'node' && argv[1] === '/app/server.mjs') found.runtime = pid;
    if (argv[0] === 'node' && String(argv[1]).endsWith('faulty/server.mjs')) found.pack = pid;
  } catch {}
console.log(JSON.stringify(found));
`;
const STATUS = (pid: string) => `grep -E '^(VmRSS|VmHWM)' /proc/${pid}/status`;

const ns = await testNamespace('flood-bench');
const image = await buildPackImage({ tag: `${ns.namespace}-faulty`, packs: [await approvePack('faulty')] });
try {
  const tenants = await packTenants(ns);
  console.log(`runtime image ${RUNTIME_IMAGE}`);
  let uid = 100_470;
  for (const tool of TOOLS) {
    for (let i = 0; i < RUNS; i++) {
      const tenant = `flood-${tool.replace('_', '')}-${i}`;
      await tenants.start(tenant, uid++, image);
      const id = (await tenants.driver.inspect(tenant))!.runtimeId;
      const container = ns.docker.getContainer(id);
      const limit = ((await container.inspect()).HostConfig.Memory ?? 0) / 1024 / 1024;
      const client = await tenants.client(tenant);
      await client.callTool({ name: 'faulty_ok', arguments: {} });
      const out = (await execIn(ns.docker, id, ['node', '-e', PIDS])).output;
      const pids = JSON.parse(out.slice(out.indexOf('{'))) as { runtime: string; pack: string };
      const pid = pids.runtime;
      await execIn(ns.docker, id, ['sh', '-c', `echo 5 > /proc/${pid}/clear_refs`]);
      const before = (await execIn(ns.docker, id, ['sh', '-c', STATUS(pid)])).output;
      let outcome: string;
      try {
        const result = await client.callTool({ name: `faulty_${tool}`, arguments: {} });
        outcome = JSON.stringify(result.structuredContent);
      } catch (error) {
        outcome = `failed: ${(error as Error).message.slice(0, 120)}`;
      }
      const { State: state } = await container.inspect();
      const after = state.Running
        ? (await execIn(ns.docker, id, ['sh', '-c', STATUS(pid)])).output
        : `not running (OOMKilled: ${state.OOMKilled})`;
      const pack = state.Running ? (await execIn(ns.docker, id, ['sh', '-c', STATUS(pids.pack)])).output : '';
      const kib = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1]);
      console.log(
        `${tool.padEnd(13)} run ${i + 1}: limit ${limit} MiB; runtime RSS before ${(kib(before, 'VmRSS') / 1024).toFixed(0)} MiB, ` +
          `peak ${(kib(after, 'VmHWM') / 1024).toFixed(0)} MiB (the pack's: ${(kib(pack, 'VmHWM') / 1024).toFixed(0)} MiB); ` +
          `${after.startsWith('not') ? after : ''} call: ${outcome}`,
      );
      await client.close().catch(() => undefined);
    }
  }
} finally {
  await ns.cleanup();
  await removeImage(image);
}
