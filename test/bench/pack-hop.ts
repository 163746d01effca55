// Benchmark (not a test): tool packs in a tenant's container on the real engine. Prints
//   - the runtime-to-pack hop, on the host: the runtime's pack call path against a bare JSON-RPC
//     client on the same pack's stdio (the target: at most 0.3 ms added at p50);
//   - the same through a container's socket: a pack tool against a records tool, and the pack
//     called directly on its stdio inside that container (noisier: CPU quota, HTTP, assertion);
//   - idle memory of a tenant container with no pack, one pack and three packs;
//   - cold start (ensure until healthy) without a pack and with one.
// Asserts nothing; every loop is bounded; everything lives in its own namespace and is removed.
//   node test/bench/pack-hop.ts [--calls 300] [--rounds 3]
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServerContext } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { InputExchanges } from '../../runtime-image/src/packs/pack-exchanges.ts';
import { callPackTool } from '../../runtime-image/src/packs/pack-calls.ts';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import { execIn, RUNTIME_IMAGE, testNamespace } from '../support/namespace.ts';
import { approvePack, buildPackImage, hostPacks, removeImage } from '../support/pack-image.ts';
import { packTenants } from '../support/pack-tenants.ts';
import { printFigures, timed } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '300' }, rounds: { type: 'string', default: '3' } },
});
const CALLS = Math.min(2000, Number(values.calls));
const ROUNDS = Math.min(10, Number(values.rounds));
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs inside the container as the tenant: starts the echo pack on its stdio exactly as the
 * runtime does and times CALLS tools/call round trips; prints the samples as JSON.
 */
const DIRECT = String.raw`
const { spawn } = require('node:child_process');
const calls = Number(process.argv[1]);
const child = spawn('node', [process.argv[2] ?? '/opt/bulkhead/packs/echo/server.mjs'], { cwd: '/tmp', stdio: ['pipe', 'pipe', 'ignore'] });
let buffer = '';
const waiting = new Map();
child.stdout.on('data', (chunk) => {
  buffer += chunk;
  let at;
  while ((at = buffer.indexOf('\n')) >= 0) {
    const message = JSON.parse(buffer.slice(0, at));
    buffer = buffer.slice(at + 1);
    waiting.get(message.id)?.(message);
  }
});
const ask = (id, method, params) => new Promise((resolve) => {
  waiting.set(id, resolve);
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
});
(async () => {
  await ask(0, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
  const samples = [];
  for (let i = 1; i <= calls; i++) {
    const started = performance.now();
    await ask(i, 'tools/call', { name: 'echo', arguments: { text: 'hi' } });
    samples.push(performance.now() - started);
  }
  process.stdout.write(JSON.stringify(samples));
  child.kill();
})();
`;

/**
 * The hop itself, on this machine without a container (no CPU quota, no HTTP): the runtime's pack
 * call path (callPackTool: lookup, relay registration, the SDK client on the pack's stdio) against
 * a bare JSON-RPC client on the same pack's stdio, interleaved in rounds.
 */
async function hostHop(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pack-hop-'));
  try {
    const host = await hostPacks(dir, [await approvePack('echo')], {
      callTimeoutMs: 10_000,
      log: pino({ level: 'silent' }),
    });
    await host.start();
    const keys = new PackKeys(join(dir, 'keys.db'), { idempotencyWindowMs: 60_000 });
    const served = host.servedTool('echo_echo')!;
    const idle = new AbortController().signal;
    const ctx = {
      mcpReq: { signal: idle, notify: () => Promise.resolve(), requestState: () => undefined },
    } as unknown as ServerContext;
    const options = {
      host,
      keys,
      callTimeoutMs: 10_000,
      connection: idle,
      exchanges: new InputExchanges(),
      actor: 'bench',
    };
    const viaRuntime: number[] = [];
    const bare: number[] = [];
    for (let round = 0; round < 5; round++) {
      viaRuntime.push(
        ...(await timed(CALLS, () => callPackTool(served, { arguments: { text: 'hi' } }, ctx, options))),
      );
      const { stdout } = await run('node', [
        '-e',
        DIRECT,
        String(CALLS),
        join(dir, 'packs', 'echo', 'server.mjs'),
      ]);
      bare.push(...(JSON.parse(stdout) as number[]).slice(20));
    }
    const a = printFigures('pack call via the runtime path (host)', viaRuntime.slice(50), {
      digits: 3,
      labelWidth: 44,
    });
    const b = printFigures('pack called bare on its stdio (host)', bare, { digits: 3, labelWidth: 44 });
    console.log(`runtime-to-pack hop added at p50: ${(a - b).toFixed(3)} ms (target <= 0.3 ms)`);
    keys.close();
    await host.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const ns = await testNamespace('pack-bench');
  const images: string[] = [];
  try {
    const [echo, notes, faulty] = await Promise.all([
      approvePack('echo'),
      approvePack('notes'),
      approvePack('faulty'),
    ]);
    images.push(
      await buildPackImage({ tag: `${ns.namespace}-one`, packs: [echo] }),
      await buildPackImage({ tag: `${ns.namespace}-three`, packs: [echo, notes, faulty] }),
    );
    const [one, three] = images as [string, string];
    const tenants = await packTenants(ns);

    // 1. Cold start: a fresh tenant each round, ensure until its runtime answers.
    for (const [label, image] of [
      ['no pack', RUNTIME_IMAGE],
      ['one pack', one],
    ] as const) {
      const samples: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const started = performance.now();
        await tenants.start(
          `cold-${label.replace(' ', '')}-${i}`,
          100_460 + i + (image === one ? 20 : 0),
          image,
        );
        samples.push(performance.now() - started);
      }
      printFigures(`cold start, ${label}`, samples, { labelWidth: 44 });
    }

    // 2. The hop.
    await tenants.start('hop', 100_490, one);
    const client = await tenants.client('hop');
    for (let i = 0; i < 50; i++) {
      await client.callTool({ name: 'echo_echo', arguments: { text: 'hi' } });
      await client.callTool({ name: 'records_list', arguments: { limit: 1 } });
    }
    const records = printFigures(
      'records tool through the runtime socket',
      await timed(CALLS, () => client.callTool({ name: 'records_list', arguments: { limit: 1 } })),
      { digits: 3, labelWidth: 44 },
    );
    const packed = printFigures(
      'pack tool through the runtime socket',
      await timed(CALLS, () => client.callTool({ name: 'echo_echo', arguments: { text: 'hi' } })),
      { digits: 3, labelWidth: 44 },
    );
    await client.close();
    const info = await tenants.driver.inspect('hop');
    const direct = await execIn(ns.docker, info!.runtimeId, ['node', '-e', DIRECT, String(CALLS)]);
    const directSamples = JSON.parse(direct.output.slice(direct.output.indexOf('['))) as number[];
    const alone = printFigures('pack directly on its stdio (in the container)', directSamples.slice(50), {
      digits: 3,
      labelWidth: 44,
    });
    console.log(
      `through the socket (0.5 CPU quota, shared machine): pack - records - direct at p50 = ${(packed - records - alone).toFixed(3)} ms`,
    );
    await hostHop();

    // 3. Idle memory after the calls settle.
    await tenants.start('idle-0', 100_491, RUNTIME_IMAGE);
    await tenants.start('idle-1', 100_492, one);
    await tenants.start('idle-3', 100_493, three);
    await sleep(5_000);
    for (const [label, tenant] of [
      ['no pack', 'idle-0'],
      ['one pack', 'idle-1'],
      ['three packs', 'idle-3'],
    ] as const) {
      const usage = await tenants.driver.usage(tenant);
      console.log(`idle tenant container memory, ${label}: ${usage ? mib(usage.memoryBytes) : 'n/a'}`);
    }
  } finally {
    await ns.cleanup();
    for (const image of images) await removeImage(image);
  }
}

await main();
