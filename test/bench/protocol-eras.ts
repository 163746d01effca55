// Benchmark (not a test): what a 2025-11-25 session costs per request against the stateless
// 2026-07-28 path, on one router and on two routers sharing the session through Redis with no
// affinity. Sequential in-process `whoami` calls (shared tool: no container on the path), so the
// figures are the router's protocol and auth overhead. Prints figures; asserts nothing.
//   node test/bench/protocol-eras.ts [--calls 300]
import { printFigures } from './figures.ts';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { startTestStack } from '../support/stack.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '300' } },
});
const calls = Math.min(Math.max(Number(values.calls), 10), 5_000);

async function measure(label: string, client: Client): Promise<void> {
  for (let i = 0; i < 20; i++) await client.callTool({ name: 'whoami', arguments: {} }); // warm-up
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    samples.push(performance.now() - t0);
    if (result.isError) throw new Error('whoami failed');
  }
  const totalMs = performance.now() - started;
  printFigures(label, samples, {
    digits: 2,
    extra: `  ${((samples.length / totalMs) * 1000).toFixed(0)} calls/s`,
  });
}

async function main(): Promise<void> {
  const stack = await startTestStack('bench-eras');
  // Registered only: whoami needs no runtime, but a token must name a known tenant.
  await stack.registry.create({ id: 'alpha', plan: planByName('small'), isolation: 'runc' });
  const second = await stack.replica();
  try {
    const token = await stack.agentToken('alpha');
    const replicas = [new URL(stack.mcpUrl).origin, second.url];
    let turn = 0;
    const alternating: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      return fetch(new URL(url.pathname, replicas[turn++ % 2]), init);
    };
    console.log(`protocol-eras benchmark: ${calls} sequential whoami calls each, Node ${process.version}`);
    for (const [label, era, viaBoth] of [
      ['2026-07-28 stateless, one router', 'modern', false],
      ['2025-11-25 session (Redis), one router', 'legacy', false],
      ['2025-11-25 session (Redis), two routers alternating', 'legacy', true],
    ] as const) {
      const client = new Client(
        { name: 'bench', version: '1' },
        era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
      );
      await client.connect(
        new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
          authProvider: { token: () => Promise.resolve(token) },
          ...(viaBoth ? { fetch: alternating } : {}),
        }),
      );
      await measure(label, client);
      await client.close();
    }
  } finally {
    await second.close();
    await stack.close();
  }
}

await main();
