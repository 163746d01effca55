// Benchmark (not a test): what the router's dispatcher adds to one warm call over a tenant's socket.
// A real MCP server (test/support/rogue-runtime.ts: the official SDK's handler on a unix socket) runs
// in a child process; this process calls it three ways, taking turns call by call: the same signed
// request replayed raw with undici (the socket's own cost), this tree's `TenantDispatcher`, and,
// with `--before DIR`, the `TenantDispatcher` and call signer of another checkout (e.g. main) as the
// baseline of the same run. Prints p50/p95 of each path, the dispatcher's overhead over the raw socket, and calls/s
// with `--concurrency` calls in flight. Asserts nothing; everything it creates is removed.
//   node test/bench/dispatcher.ts [--calls 300] [--rounds 3] [--concurrency 16] [--before /work/main]
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { mcpHeaders } from '../../router/dispatch/runtime-request.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import { printFigures } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    calls: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    before: { type: 'string' },
  },
});
const CALLS = Math.min(Math.max(Number(values.calls), 20), 20_000);
const ROUNDS = Math.min(Math.max(Number(values.rounds), 1), 10);
const CONCURRENCY = Math.min(Math.max(Number(values.concurrency), 1), 200);

interface Dispatcher {
  callTool(context: CallContext, name: string, args: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}
type DispatcherClass = new (options: ConstructorParameters<typeof TenantDispatcher>[0]) => Dispatcher;

/** The rogue runtime in a child process, so that its work is not this process's. */
async function startRuntime(socketPath: string): Promise<{ stop(): Promise<void> }> {
  const module = resolve(import.meta.dirname, '../support/rogue-runtime.ts');
  const script =
    `const { startRogueRuntime } = await import(${JSON.stringify(module)});` +
    `await startRogueRuntime(${JSON.stringify(socketPath)}); console.log('ready');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((ready, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) ready();
    });
    child.once('exit', (code) => fail(new Error(`runtime exited with ${code}`)));
  });
  return {
    stop: async () => {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill();
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-bench-dispatch-'));
  const socketPath = join(dir, 'mcp.sock');
  const runtime = await startRuntime(socketPath);
  const { privateKey } = generateKeyPairSync('ed25519');
  const sign = await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const endpoint = { kind: 'unix' as const, socketPath, uid: process.getuid?.() ?? 0 };
  const context: CallContext = { tenant: 'acme', user: null, agent: 'bench', scopes: [] };
  const options = {
    runtimes: { ensure: () => Promise.resolve(endpoint) },
    sign,
    logger: pino({ level: 'silent' }),
  };
  const paths: { label: string; call: () => Promise<unknown>; close(): Promise<void> }[] = [];
  const dispatcherPath = (label: string, Class: DispatcherClass, signer = sign): void => {
    const dispatcher = new Class({ ...options, sign: signer });
    paths.push({
      label,
      call: () => dispatcher.callTool(context, 'records_list', {}),
      close: () => dispatcher.close(),
    });
  };
  if (values.before) {
    const file = resolve(values.before, 'router/dispatch/tenant-dispatcher.ts');
    const before = (await import(file)) as { TenantDispatcher: DispatcherClass };
    // Its own call signer too: how an assertion is signed is part of what a dispatched call costs.
    const signer = (await import(resolve(values.before, 'router/dispatch/call-signer.ts'))) as {
      createCallSigner: typeof createCallSigner;
    };
    const beforeSign = await signer.createCallSigner(
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    dispatcherPath(`dispatcher before (${values.before})`, before.TenantDispatcher, beforeSign);
  }
  dispatcherPath('dispatcher (this tree)', TenantDispatcher);

  // The socket's own cost: the request the dispatcher sends, signed afresh and replayed raw.
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name: 'records_list',
      arguments: {},
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
  const agent = new Agent({ connect: { socketPath } });
  paths.unshift({
    label: 'socket directly (signed, raw undici)',
    call: async () => {
      const res = await request('http://tenant/mcp', {
        method: 'POST',
        dispatcher: agent,
        headers: {
          ...mcpHeaders('tools/call', { name: 'records_list' }),
          [CALL_ASSERTION_HEADER]: await sign(context, body),
        },
        body,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`raw call answered ${res.statusCode}: ${text}`);
    },
    close: () => agent.close(),
  });

  const samples = new Map(paths.map((path) => [path.label, [] as number[]]));
  const rates = new Map(paths.map((path) => [path.label, [] as number[]]));
  console.log(
    `dispatcher benchmark: Node ${process.version}, ${ROUNDS} rounds of ${CALLS} sequential calls ` +
      `(the paths taking turns call by call) and ${CALLS} calls ${CONCURRENCY} at a time per path`,
  );
  try {
    for (const path of paths) for (let i = 0; i < 50; i++) await path.call(); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      // Sequential calls, the paths taking turns call by call: each sees the machine's load alike.
      for (let i = 0; i < CALLS; i++) {
        for (const path of paths) {
          const started = performance.now();
          await path.call();
          samples.get(path.label)?.push(performance.now() - started);
        }
      }
      for (const path of paths) {
        let next = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next++ < CALLS) await path.call();
          }),
        );
        rates.get(path.label)?.push((CALLS * 1000) / (performance.now() - started));
      }
    }
    const p50 = new Map<string, number>();
    for (const path of paths) {
      const best = Math.max(...(rates.get(path.label) ?? []));
      const extra = `  ${best.toFixed(0)} calls/s at ${CONCURRENCY} in flight (best round)`;
      p50.set(path.label, printFigures(path.label, samples.get(path.label) ?? [], { digits: 2, extra }));
    }
    const raw = p50.get(paths[0]?.label ?? '') ?? NaN;
    for (const path of paths.slice(1))
      console.log(
        `overhead over the socket, p50: ${path.label}: ${((p50.get(path.label) ?? NaN) - raw).toFixed(2)} ms`,
      );
  } finally {
    for (const path of paths) await path.close();
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
