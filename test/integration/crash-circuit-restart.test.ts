// The crash circuit across a supervisor restart, on the real engine and Redis: a tenant whose
// runtime exits at every start (the supervisor hands runtimes a router key that is no key) opens
// its circuit; a restarted supervisor goes on refusing it for the rest of the backoff, starting
// nothing, and its next failure doubles the backoff instead of counting from zero. A tenant
// onboarded again under the same id is not refused for the earlier one's failures.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crashCircuitKey } from '../../kernel/redis/keys.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let redis: Redis;
let keyDir: string;

beforeAll(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'bulkhead-circuit-'));
  const notAKey = join(keyDir, 'router-public.pem');
  await writeFile(notAKey, 'not a key\n');
  stack = await startTestStack('circuit', {
    supervisor: { routerPublicKeyFile: notAKey, healthIntervalMs: 3_600_000 },
  });
  redis = new Redis(stack.ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  await rm(keyDir, { recursive: true, force: true });
});

/** One ensure through the supervisor's job queue, as a router's call asks; what it answered. */
async function ensure(id: string): Promise<{ code: string; retryAfterMs?: number; generation?: number }> {
  const outcome = await stack.runtimes.ensureRuntime(id).then(
    () => ({ code: 'ok' }),
    (error: { code: string; retryAfterMs?: number }) => ({
      code: error.code,
      retryAfterMs: error.retryAfterMs,
    }),
  );
  // Each container made for the tenant has the next generation: a start attempted shows as one more.
  const generation = (await stack.supervisor.driver.inspect(id))?.generation;
  return { ...outcome, generation };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the crash circuit across a supervisor restart', () => {
  it('goes on backing off a crash-looping tenant where the supervisor before it left off', async () => {
    const looper = await stack.registry.create({
      id: 'looper',
      plan: planByName('small'),
      isolation: 'runc',
    });
    for (let i = 0; i < 3; i++) expect(await ensure('looper')).toMatchObject({ code: 'runtime_failed' });
    const opened = await ensure('looper');
    expect(opened).toMatchObject({ code: 'runtime_backoff', generation: 3 });
    await pause(opened.retryAfterMs!);
    // Its fourth failed start doubles the backoff (2 s, then 4 s).
    expect(await ensure('looper')).toMatchObject({ code: 'runtime_failed', generation: 4 });
    const doubled = await ensure('looper');
    expect(doubled).toMatchObject({ code: 'runtime_backoff' });
    expect(doubled.retryAfterMs).toBeGreaterThan(2_000);

    await stack.restartSupervisor();

    // Refused for the rest of the backoff, with nothing started (no container of a later generation).
    const after = await ensure('looper');
    expect(after).toMatchObject({ code: 'runtime_backoff', generation: 4 });
    expect(after.retryAfterMs).toBeLessThanOrEqual(doubled.retryAfterMs!);
    // Kept in Redis under the tenant's record, no longer than the backoff's maximum (60 s).
    const ttl = await redis.pttl(
      crashCircuitKey(stack.ns.installation.registryPrefix, {
        tenant: 'looper',
        tenantCreatedAt: looper.createdAt,
      }),
    );
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    await pause(after.retryAfterMs!);
    // Then one start, and the backoff doubles again (8 s), as if there had been no restart: the exit
    // of the start the supervisor before it counted is not counted a second time.
    expect(await ensure('looper')).toMatchObject({ code: 'runtime_failed', generation: 5 });
    const next = await ensure('looper');
    expect(next).toMatchObject({ code: 'runtime_backoff', generation: 5 });
    expect(next.retryAfterMs).toBeGreaterThan(4_000);
  });

  it('does not hold a tenant onboarded again under the same id to the earlier one’s circuit', async () => {
    const create = () => stack.registry.create({ id: 'again', plan: planByName('small'), isolation: 'runc' });
    const earlier = await create();
    for (let i = 0; i < 3; i++) expect(await ensure('again')).toMatchObject({ code: 'runtime_failed' });
    expect(await ensure('again')).toMatchObject({ code: 'runtime_backoff', generation: 3 });
    // Offboarded behind the supervisor's back (its record only) and registered again: a start is
    // tried for the new tenant, by this supervisor and by a restarted one.
    await stack.registry.delete('again');
    const again = await create();
    expect(again.createdAt).not.toBe(earlier.createdAt);
    expect(await ensure('again')).toMatchObject({ code: 'runtime_failed', generation: 4 });
    await stack.restartSupervisor();
    expect(await ensure('again')).toMatchObject({ code: 'runtime_failed', generation: 5 });
  });
});
