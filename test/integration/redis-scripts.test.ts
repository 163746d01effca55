// The Lua scripts on a real redis-server of this test's own (it flushes the script cache, which the
// shared Redis must never see): a script goes over the wire whole once per connection, by SHA-1
// after that, and again whole when the server has forgotten it. The epoch script keeps its rule:
// a tenant active after the cutoff keeps its epoch.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { LUA_SOURCES } from '../../kernel/redis/scripts.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { installation, type Installation } from '../../kernel/tenant/installation.ts';
import { RedisRuntimeEpochs } from '../../supervisor/client/runtime-epochs.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

const PASSWORD = 'scripts-test';

let server: PrivateRedis;
let inst: Installation;
let redis: Redis;
let admin: Redis;

beforeAll(async () => {
  server = await startPrivateRedis({ password: PASSWORD });
  inst = installation({ namespace: 'scripts', redisUrl: `redis://:${PASSWORD}@127.0.0.1:${server.port}/2` });
  redis = new Redis(inst.redis);
  admin = new Redis({ port: server.port, password: PASSWORD });
});

afterAll(async () => {
  redis?.disconnect();
  admin?.disconnect();
  await server?.stop();
});

/** How often the server ran EVAL and EVALSHA since the last reset. */
async function evalCounts(): Promise<{ eval: number; evalsha: number }> {
  const stats = await admin.info('commandstats');
  const calls = (command: string): number =>
    Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return { eval: calls('eval'), evalsha: calls('evalsha') };
}

describe('Lua scripts on the wire', () => {
  it('sends a script whole once, then by SHA-1, and whole again after SCRIPT FLUSH', async () => {
    const registry = new TenantRegistry({ redis, prefix: inst.registryPrefix });
    const sha = createHash('sha1').update(LUA_SOURCES.registryCreate).digest('hex');
    await admin.config('RESETSTAT');

    await registry.create({ id: 'one', plan: planByName('small'), isolation: 'runc' });
    expect(await admin.script('EXISTS', sha)).toEqual([1]);
    await registry.create({ id: 'two', plan: planByName('small'), isolation: 'runc' });
    expect(await evalCounts()).toEqual({ eval: 1, evalsha: 1 });

    await admin.script('FLUSH');
    await registry.create({ id: 'three', plan: planByName('small'), isolation: 'runc' });
    // The SHA-1 came back NOSCRIPT (a failed EVALSHA still counts as a call), the source followed.
    expect(await evalCounts()).toEqual({ eval: 2, evalsha: 2 });
    expect((await registry.list()).map((t) => t.id)).toEqual(['one', 'three', 'two']);
  });

  it('bumps an epoch only for a tenant idle since the cutoff', async () => {
    const epochs = new RedisRuntimeEpochs({ redis, prefix: inst.registryPrefix });
    await epochs.touch('busy', 2_000);
    // An earlier time recorded later (the supervisor's, after a router's) never moves it back.
    await epochs.touch('busy', 500);
    expect(await epochs.bumpIfIdle('busy', 1_000)).toBe(false);
    expect(await epochs.current('busy')).toBe(0);
    expect(await epochs.bumpIfIdle('busy', 3_000)).toBe(true);
    expect(await epochs.current('busy')).toBe(1);
    expect(await epochs.bumpIfIdle('never-seen', 1_000)).toBe(true);
    expect(await epochs.current('never-seen')).toBe(1);
  });
});
