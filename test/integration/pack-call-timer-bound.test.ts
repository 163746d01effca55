// The longest pack call timeout the runtime takes (BULKHEAD_PACK_CALL_TIMEOUT_MS at the timer bound,
// kernel/config/timer-bound.ts) never makes a call time out at once: the bound on the whole call,
// the setting plus the wait for answers, would pass what a Node timer can wait, which Node replaces
// by 1 ms. A real pack process on this machine (no container), answering after a few milliseconds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIMER_MAX_MS } from '../../kernel/config/timer-bound.ts';
import type { PackHost } from '../../runtime-image/src/packs/pack-host.ts';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import { hostCaller, hostPacks } from '../support/pack-host.ts';
import { approvePack } from '../support/pack-image.ts';

let dir: string;
let host: PackHost;
let keys: PackKeys;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-timer-bound-'));
  host = await hostPacks(dir, [await approvePack('faulty')], { callTimeoutMs: TIMER_MAX_MS });
  await host.start();
  keys = new PackKeys(join(dir, 'keys.db'), { idempotencyWindowMs: 60_000 });
}, 30_000);

afterAll(async () => {
  keys?.close();
  await host?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a pack call timeout at the timer bound', () => {
  it('answers a call that takes a while, instead of timing it out at once', async () => {
    const { call, relayed } = hostCaller(host, keys, TIMER_MAX_MS);
    // 3 MiB of log notifications before the answer: many milliseconds, whatever the machine.
    const answer = await call('faulty_chatty');
    expect(answer.isError).toBeUndefined();
    expect(relayed()).toBeGreaterThan(0);
  }, 30_000);
});
