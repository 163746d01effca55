// Benchmark (not a test): how long a tenant's first write call takes through the full stack, from
// no container to the answer, against a warm call. Prints figures; asserts nothing.
//   node test/bench/cold-start.ts [--tenants 10]
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { startTestStack } from '../support/stack.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { printFigures } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { tenants: { type: 'string', default: '10' } },
});
const count = Number(values.tenants);

async function timedWrite(client: Client, title: string): Promise<number> {
  const started = performance.now();
  const result = await client.callTool({
    name: 'records_create',
    arguments: { title, idempotency_key: randomUUID() },
  });
  const ms = performance.now() - started;
  if (result.isError) throw new Error(`write failed: ${JSON.stringify(result.structuredContent)}`);
  return ms;
}

async function main(): Promise<void> {
  const stack = await startTestStack('bench');
  const firstEver: number[] = [];
  const coldAgain: number[] = [];
  const warm: number[] = [];
  try {
    console.log(`cold-start benchmark: ${count} tenants, runc, plan small, Node ${process.version}`);
    for (let i = 0; i < count; i++) {
      const id = `bench-${i}`;
      // Registered but never started: no container, no volume, no socket directory.
      await stack.registry.create({
        id,
        plan: planByName('small'),
        isolation: 'runc',
        tools: openToAgentsAlone(['records_create']),
      });
      const token = await stack.agentToken(id);
      const client = await bearerClient(stack.mcpUrl, token);
      firstEver.push(await timedWrite(client, 'first'));
      for (let j = 0; j < 5; j++) warm.push(await timedWrite(client, `warm-${j}`));
      // Remove the container but keep the volume (what idle reaping does), then call again.
      await stack.supervisor.manager.remove(id, false);
      coldAgain.push(await timedWrite(client, 'cold-again'));
      await client.close();
    }
    printFigures('first write ever (volume + container created)', firstEver);
    printFigures('cold write (volume kept, container created)', coldAgain);
    printFigures('warm write', warm);
  } finally {
    await stack.close();
  }
}

await main();
