// Idle tiers on the real engine: an idle tenant is paused, then stopped, then removed (volume
// kept), and its next call wakes it from each tier and is answered correctly. The router hears of
// each change through the tenant's runtime epoch, so a paused socket never swallows a call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentClient, containerId, containerName, volumeTitles, write } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { containerState } from '../support/frozen.ts';

let stack: TestStack;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stack = await startTestStack('idle', {
    // A paused socket would hold a call until this timeout: the test fails loudly if it happens.
    callTimeoutMs: 5_000,
    routeFreshnessMs: 200,
    supervisor: {
      idleTiers: { pauseAfterMs: 1_000, stopAfterMs: 2_500, removeAfterMs: 4_000 },
      idleIntervalMs: 3_600_000, // driven by the test
      healthIntervalMs: 3_600_000,
    },
  });
  await stack.onboard('sleepy');
});

afterAll(async () => {
  await stack?.close();
});

const engineState = () => containerState(stack.ns.docker, containerName(stack, 'sleepy'));

/**
 * Waits `ms` (so the router's route has gone stale and it checks the epoch, as it would after any
 * real idle time), then runs the reaper as `ms` after the tenant's last recorded call: a slow call
 * on a loaded machine moves that instant, not the tier the reaper picks.
 */
async function idleFor(ms: number): Promise<void> {
  await sleep(ms);
  const last = (await stack.supervisor.epochs.activity()).get('sleepy');
  if (last === undefined) throw new Error('no call of sleepy was recorded');
  await stack.supervisor.idle!.runOnce(last + ms);
}

describe('idle tiers', () => {
  it('pauses, stops and removes an idle tenant, and wakes it from each tier on its next call', async () => {
    const client = await agentClient(stack, 'sleepy');
    expect((await write(client, 'awake')).ok).toBe(true);
    const id = await containerId(stack, 'sleepy');
    const startedAt = async () => (await stack.ns.docker.getContainer(id!).inspect()).State.StartedAt;

    await idleFor(1_100);
    expect(await engineState()).toBe('paused');
    const pausedSince = await startedAt();
    // Answered, not held on the paused socket until the call's timeout (that answers an error), by
    // the same container thawed: not started again (the engine's start time is the one it paused with).
    expect(await write(client, 'from-paused')).toMatchObject({ ok: true });
    expect(await engineState()).toBe('running');
    expect(await containerId(stack, 'sleepy')).toBe(id);
    expect(await startedAt()).toBe(pausedSince);

    await idleFor(2_600);
    expect(await engineState()).toBe('exited');
    expect((await write(client, 'from-stopped')).ok).toBe(true);
    expect(await engineState()).toBe('running');
    expect(await containerId(stack, 'sleepy')).toBe(id);

    await idleFor(4_100);
    expect(await engineState()).toBe('absent');
    expect((await write(client, 'from-removed')).ok).toBe(true);
    expect(await engineState()).toBe('running');

    expect(await volumeTitles(stack, 'sleepy')).toEqual([
      'awake',
      'from-paused',
      'from-stopped',
      'from-removed',
    ]);
    expect(stack.supervisor.idle!.actions.entries.map((a) => a.event)).toEqual(['pause', 'stop', 'reap']);
    await client.close();
  }, 60_000);

  it('counts an ensure of the control plane as use: a runtime it starts is not idled at once', async () => {
    const client = await agentClient(stack, 'sleepy');
    expect((await write(client, 'before-resume')).ok).toBe(true);
    const last = (await stack.supervisor.epochs.activity()).get('sleepy')!;
    await stack.supervisor.idle!.runOnce(last + 2_600);
    expect(await engineState()).toBe('exited');
    await sleep(150);
    // As `bulkhead resume` and `onboard` do: through a runtime job, with no call through a router.
    const asked = Date.now();
    await stack.runtimes.ensure('sleepy');
    expect(await engineState()).toBe('running');
    // 900 ms after the ensure was asked for: under the 1 s pause tier, though its last call was longer ago.
    await stack.supervisor.idle!.runOnce(asked + 900);
    expect(await engineState()).toBe('running');
    await client.close();
  });

  it('does not pause a tenant that is being called', async () => {
    const client = await agentClient(stack, 'sleepy');
    const before = stack.supervisor.idle!.actions.total;
    for (let i = 0; i < 8; i++) {
      // Counted from when this call began (the router records it then), however long it took.
      const started = Date.now();
      expect((await write(client, `busy-${i}`)).ok).toBe(true);
      await sleep(300);
      await stack.supervisor.idle!.runOnce(started + 600);
    }
    expect(stack.supervisor.idle!.actions.total).toBe(before);
    await client.close();
  });
});
