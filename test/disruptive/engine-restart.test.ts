// Restarting the Docker engine (every container stops: live-restore is off): the tenant comes back
// on its next call, with its data, in exactly one container. Disrupts the shared engine, so it runs
// in its own vitest invocation after the main suite (package.json "test").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentClient, tenantContainers, volumeTitles, write } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { restartDockerEngine } from './engine-control.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('engine', { callTimeoutMs: 10_000 });
  await stack.onboard('survivor');
});

afterAll(async () => {
  await stack?.close();
});

describe('Docker engine restart', () => {
  it('the tenant comes back on its next call, in one container, with its data', async () => {
    const client = await agentClient(stack, 'survivor');
    expect((await write(client, 'before-restart')).ok).toBe(true);

    await restartDockerEngine(stack.ns.docker);
    expect((await tenantContainers(stack)).map((c) => c.state)).toEqual(['exited']);

    const after = await write(client, 'after-restart');
    expect(after).toMatchObject({ ok: true });
    const containers = await tenantContainers(stack);
    expect(containers).toHaveLength(1);
    expect(containers[0]?.state).toBe('running');
    expect(await volumeTitles(stack, 'survivor')).toEqual(['before-restart', 'after-restart']);
    await client.close();
  }, 240_000);
});
