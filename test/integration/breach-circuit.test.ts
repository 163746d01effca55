// A hostile tenant whose runtime breaks a read bound at every call, on the real engine, Redis and
// router: each container it is given, a process of the tenant takes the runtime over
// (test/support/answering-runtime.ts) and answers a call nested 5,000 levels deep. The router takes
// such a runtime for a compromised one and has the supervisor replace it; without the crash
// circuit counting those, every call would cost a new container (engine work, a create-cap slot
// other tenants' starts wait for). The first two are replaced; the third opens the circuit and is
// removed without a replacement, and the next call gets the backoff.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { startAnsweringRuntime } from '../support/answering-runtime.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { bearerClient, containerId, containerName } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** Every call but the tool check: an answer nested 5,000 levels deep (a broken read bound). */
const SCRIPT = String.raw`(message) => ['{"jsonrpc":"2.0","id":' + message.id +
  ',"result":{"resultType":"complete","content":[],"structuredContent":{"records":' +
  '['.repeat(5000) + ']'.repeat(5000) + '}}}']`;

let stack: TestStack;
const hostile: HostileProcess[] = [];

beforeAll(async () => {
  // The circuit's first backoff long enough that the call after it is refused on a loaded machine.
  stack = await startTestStack('breach-circuit', { supervisor: { drainSeconds: 1, crashBackoffMs: 60_000 } });
  await stack.onboard('breaker');
}, 120_000);

afterAll(async () => {
  for (const process of hostile) process.stop();
  await stack?.close();
});

/** Has the tenant's runtime started, then hands its listener to the script; its container's id. */
async function takeOver(): Promise<string> {
  await stack.runtimes.ensure('breaker');
  const uid = (await stack.registry.get('breaker'))!.uid;
  const container = stack.ns.docker.getContainer(containerName(stack, 'breaker'));
  const tools = RECORDS_TOOLS.map((definition) => wireTool(definition));
  hostile.push(await startAnsweringRuntime(container, { uid, tools, script: SCRIPT }));
  return (await container.inspect()).Id;
}

/** Until the container `id` no longer serves the tenant (the recycle is a job, after the answer). */
async function replaced(id: string): Promise<void> {
  for (let i = 0; i < 300 && (await containerId(stack, 'breaker')) === id; i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await containerId(stack, 'breaker')).not.toBe(id);
}

describe('a runtime that breaks a read bound at every call', () => {
  it('is replaced twice, then removed without a replacement, and calls get the backoff', async () => {
    const client = await bearerClient(stack.mcpUrl, await stack.agentToken('breaker'));
    try {
      const seen: string[] = [];
      for (let round = 0; round < 3; round++) {
        const id = await takeOver();
        seen.push(id);
        const broken = await client.callTool({ name: 'records_list', arguments: {} });
        expect(broken.structuredContent).toMatchObject({
          error: { error_class: 'transient', code: 'runtime_unavailable' },
        });
        await replaced(id);
      }
      expect(new Set(seen).size).toBe(3);
      // The third was removed and none made in its place: the next call is refused, nothing started.
      expect(await containerId(stack, 'breaker')).toBeUndefined();
      const refused = await client.callTool({ name: 'records_list', arguments: {} });
      expect(refused.structuredContent).toMatchObject({
        error: { error_class: 'transient', code: 'runtime_backoff', retryable: true },
      });
      expect(await containerId(stack, 'breaker')).toBeUndefined();
    } finally {
      await client.close();
    }
  }, 240_000);
});
