// The registry and the audit trail on real Redis: generations with optimistic concurrency (one of
// two concurrent updates wins, the other gets a conflict, nothing is lost; an update made from a
// tenant since offboarded and onboarded again is not written over the new one, nor its record
// deleted), a change log naming who made each change, manifest rules that change nothing when they
// refuse (and take a deprecated version's pin), an id that would name its runtime as another
// tenant's volume-init helper refused, a record read again that is parsed only when its stored text
// changed, and a hash chain that a tampered entry breaks.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { TenantSpecError } from '../../kernel/tenant/tenant-config.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import {
  TenantConflictError,
  TenantExistsError,
  TenantRegistry,
} from '../../kernel/registry/tenant-registry.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let registry: TenantRegistry;

beforeAll(async () => {
  ns = await testNamespace('reg');
  redis = new Redis(ns.installation.redis);
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

describe('tenant registry', () => {
  it("refuses a tenant id whose runtime would take another tenant's volume-init helper's name", async () => {
    await registry.create({ id: 'delta', plan: planByName('small'), isolation: 'runc' });
    const refused = registry.create({ id: 'delta-volinit', plan: planByName('small'), isolation: 'runc' });
    await expect(refused).rejects.toThrow(/volume-init helper/);
    expect(await registry.get('delta-volinit')).toBeUndefined();
  });

  it('starts every tenant at generation 1 and logs who created it', async () => {
    const tenant = await registry.create(
      { id: 'echo', plan: planByName('small'), isolation: 'runc' },
      { actor: 'alice', reason: 'ticket 42' },
    );
    expect(tenant.generation).toBe(1);
    const [entry] = await registry.history('echo');
    expect(entry).toMatchObject({
      tenant: 'echo',
      action: 'create',
      generation: 1,
      actor: 'alice',
      reason: 'ticket 42',
    });
  });

  it('lets exactly one of two concurrent updates win; the other gets a conflict and nothing is lost', async () => {
    const base = await registry.require('echo');
    const results = await Promise.allSettled([
      registry.update('echo', {
        expectedGeneration: base.generation,
        changes: { displayName: 'Echo by Alice' },
        author: { actor: 'alice' },
      }),
      registry.update('echo', {
        expectedGeneration: base.generation,
        changes: { isolation: 'gvisor' },
        author: { actor: 'bob' },
      }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(TenantConflictError);
    const after = await registry.require('echo');
    expect(after.generation).toBe(base.generation + 1);
    // The winner's change is stored whole; the loser's is not half-applied.
    const winner = (won[0] as PromiseFulfilledResult<{ displayName: string; isolation: string }>).value;
    expect(after.displayName).toBe(winner.displayName);
    expect(after.isolation).toBe(winner.isolation);
    expect(
      [after.displayName === 'Echo by Alice', after.isolation === 'gvisor'].filter(Boolean),
    ).toHaveLength(1);
    // The loser re-reads and retries on top of the winner: both changes survive.
    const loserAlice = after.displayName !== 'Echo by Alice';
    const retried = await registry.update('echo', {
      expectedGeneration: after.generation,
      changes: loserAlice ? { displayName: 'Echo by Alice' } : { isolation: 'gvisor' },
      author: { actor: loserAlice ? 'alice' : 'bob' },
    });
    expect(retried).toMatchObject({
      displayName: 'Echo by Alice',
      isolation: 'gvisor',
      generation: base.generation + 2,
    });
    const log = await registry.history('echo');
    expect(log.map((e) => e.generation)).toEqual([1, 2, 3]);
    expect(new Set(log.slice(1).map((e) => e.actor))).toEqual(new Set(['alice', 'bob']));
  });

  it('writes no update made from a tenant that was offboarded and onboarded again, at the same generation, before it landed', async () => {
    const small = planByName('small');
    const first = await registry.create({ id: 'kilo', plan: small, isolation: 'runc' });
    // Between the registry's read and its script, the tenant is offboarded and another one onboarded
    // under the same id: the same generation, another UID.
    const raced = Object.assign(Object.create(registry) as TenantRegistry, {
      require: async (id: string) => {
        const read = await registry.require(id);
        await registry.delete(id, { actor: 'test', reason: 'offboard' });
        await registry.create({ id, plan: small, isolation: 'runc' });
        return read;
      },
    });
    const update = raced.update('kilo', {
      expectedGeneration: first.generation,
      changes: { displayName: 'Kilo of the first tenant' },
      author: { actor: 'alice' },
    });
    await expect(update).rejects.toThrow(/offboarded and onboarded again concurrently/);
    const now = await registry.require('kilo');
    expect(now.uid).not.toBe(first.uid);
    expect(now.displayName).toBe('kilo');
  });

  it('deletes no record of a tenant onboarded again under the id, at the generation expected', async () => {
    const small = planByName('small');
    const first = await registry.create({ id: 'lima', plan: small, isolation: 'runc' });
    // Offboarded and onboarded again since the first was read: the same generation, another UID.
    await registry.delete('lima', { actor: 'test', reason: 'offboard' });
    const second = await registry.create({ id: 'lima', plan: small, isolation: 'runc' });
    expect(second.generation).toBe(first.generation);
    const stale = registry.delete(
      'lima',
      { actor: 'test', reason: 'offboard of the first' },
      { expectedGeneration: first.generation, expectedUid: first.uid },
    );
    await expect(stale).rejects.toBeInstanceOf(TenantConflictError);
    expect((await registry.require('lima')).uid).toBe(second.uid);
    expect(
      await registry.delete(
        'lima',
        { actor: 'test' },
        { expectedGeneration: second.generation, expectedUid: second.uid },
      ),
    ).toBe(true);
  });

  it('reads the record on every get, parsing it again only when the stored text changed', async () => {
    await registry.create({ id: 'parsed', plan: planByName('small'), isolation: 'runc' });
    const first = await registry.get('parsed');
    // The record parsed before, shared: frozen, so that no reader can change it for the others.
    expect(await registry.get('parsed')).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first?.plan) && Object.isFrozen(first?.tools)).toBe(
      true,
    );
    expect(() => {
      (first as { status: string }).status = 'suspended';
    }).toThrow(TypeError);
    // Another process (a second registry) changes it: the next get reads the new text.
    const other = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
    await other.update('parsed', {
      expectedGeneration: 1,
      changes: { status: 'suspended' },
      author: { actor: 'ops' },
    });
    const changed = await registry.get('parsed');
    expect(changed).not.toBe(first);
    expect(changed).toMatchObject({ status: 'suspended', generation: 2 });
    await other.delete('parsed');
    expect(await registry.get('parsed')).toBeUndefined();
  });

  it('refuses a stale generation even when nothing else is running', async () => {
    await expect(
      registry.update('echo', {
        expectedGeneration: 1,
        changes: { displayName: 'x' },
        author: { actor: 'carol' },
      }),
    ).rejects.toBeInstanceOf(TenantConflictError);
  });

  it('refuses unknown tools and unpinned versions, changing nothing', async () => {
    const before = await registry.require('echo');
    await expect(
      registry.update('echo', {
        expectedGeneration: before.generation,
        changes: { tools: [{ name: 'shell_exec', version: '1.0.0', agentsAlone: true }] },
        author: { actor: 'mallory' },
      }),
    ).rejects.toThrow(/unknown tool "shell_exec"/);
    await expect(
      registry.update('echo', {
        expectedGeneration: before.generation,
        changes: { tools: [{ name: 'records_get', version: '9.9.9', agentsAlone: false }] },
        author: { actor: 'mallory' },
      }),
    ).rejects.toBeInstanceOf(TenantSpecError);
    await expect(
      registry.create({
        id: 'foxtrot',
        plan: planByName('small'),
        isolation: 'runc',
        tools: [{ name: 'nope', version: '1.0.0', agentsAlone: false }],
      }),
    ).rejects.toThrow(/unknown tool "nope"/);
    expect(await registry.require('echo')).toEqual(before);
    expect(await registry.get('foxtrot')).toBeUndefined();
    expect((await registry.history()).map((e) => e.actor)).not.toContain('mallory');
  });

  it('keeps a tenant pinned to a deprecated tool version changeable, and takes such a pin', async () => {
    await registry.create({ id: 'hotel', plan: planByName('small'), isolation: 'runc' });
    // A record written before records_list 1.2.0 came pins 1.1.0, which is deprecated now.
    const stored = await registry.require('hotel');
    const pinned = (version: string) =>
      stored.tools.map((pin) => (pin.name === 'records_list' ? { ...pin, version } : pin));
    await redis.set(
      `${ns.installation.registryPrefix}:tenant:hotel`,
      JSON.stringify({ ...stored, tools: pinned('1.1.0') }),
    );
    const suspended = await registry.update('hotel', {
      expectedGeneration: stored.generation,
      changes: { status: 'suspended' },
      author: { actor: 'alice' },
    });
    expect(suspended.tools).toEqual(pinned('1.1.0'));
    const older = await registry.update('hotel', {
      expectedGeneration: suspended.generation,
      changes: { tools: pinned('1.0.0') },
      author: { actor: 'alice' },
    });
    expect(older.tools).toEqual(pinned('1.0.0'));
  });

  it('refuses a secret value where a reference belongs', async () => {
    const before = await registry.require('echo');
    await expect(
      registry.update('echo', {
        expectedGeneration: before.generation,
        changes: { secrets: [{ name: 'API_KEY', ref: 'sk-live-1234567890' }] },
        author: { actor: 'dave' },
      }),
    ).rejects.toThrow(/secret reference is a URI/);
    expect(await registry.require('echo')).toEqual(before);
  });

  it('lets exactly one of two concurrent creates of one id win', async () => {
    const results = await Promise.allSettled(
      [1, 2].map(() => registry.create({ id: 'golf', plan: planByName('small'), isolation: 'runc' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(
      TenantExistsError,
    );
  });
});

describe('audit trail', () => {
  it('chains concurrent appends from several writers into one verifiable sequence', async () => {
    const trails = [1, 2, 3].map(
      () =>
        new AuditTrail({ redis: new Redis(ns.installation.redis), prefix: ns.installation.registryPrefix }),
    );
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        trails[i % 3]!.append({
          tenant: 'echo',
          user: null,
          agent: `a${i}`,
          tool: 'records_get',
          decision: 'permit',
          reason: 'ok',
        }),
      ),
    );
    const trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
    const entries = await trail.entries('echo');
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await trail.verify('echo')).toMatchObject({ ok: true, entries: 30 });
    for (const t of trails) (t as unknown as { redis: Redis }).redis.disconnect();
  });

  it('writes a burst from one writer as group commits: in order, fewer scripts than entries, a bad one refused alone', async () => {
    const writerRedis = new Redis(ns.installation.redis);
    // Counts the append scripts this writer sends (ioredis sends a defined command through here).
    let scripts = 0;
    const send = writerRedis.sendCommand.bind(writerRedis);
    writerRedis.sendCommand = (command: { name: string }) => {
      if (/^eval/i.test(command.name)) scripts += 1;
      return send(command as Parameters<typeof send>[0]);
    };
    const writer = new AuditTrail({ redis: writerRedis, prefix: ns.installation.registryPrefix });
    const event = (i: number) => ({
      tenant: 'burst',
      user: null,
      agent: `a${i}`,
      tool: 'records_get',
      decision: 'permit' as const,
      reason: 'ok',
    });
    const appends = Array.from({ length: 200 }, (_, i) =>
      i === 57 ? writer.append({ ...event(i), decision: 'maybe' as 'permit' }) : writer.append(event(i)),
    );
    const settled = await Promise.allSettled(appends);
    expect(settled.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(settled[57]!.status).toBe('rejected');
    const entries = await writer.entries('burst');
    // Every accepted entry, in the order appended, as one verifiable chain.
    expect(entries.map((e) => e.agent)).toEqual(
      Array.from({ length: 200 }, (_, i) => `a${i}`).filter((a) => a !== 'a57'),
    );
    expect(await writer.verify('burst')).toMatchObject({ ok: true, entries: 199 });
    expect(scripts).toBeGreaterThan(0);
    expect(scripts).toBeLessThan(199);
    writerRedis.disconnect();
  });

  it('chains one writer after another, each remembering a head the other has moved on', async () => {
    const writers = [1, 2].map(
      () =>
        new AuditTrail({ redis: new Redis(ns.installation.redis), prefix: ns.installation.registryPrefix }),
    );
    // a, a, b, a, b, b, ...: every switch finds the writer's remembered head stale.
    for (const i of [0, 0, 1, 0, 1, 1, 0, 1, 0, 0]) {
      await writers[i]!.append({
        tenant: 'turns',
        user: null,
        agent: `w${i}`,
        tool: 'records_get',
        decision: 'permit',
        reason: 'ok',
      });
    }
    const trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
    const entries = await trail.entries('turns');
    expect(entries.map((e) => [e.seq, e.agent])).toEqual(
      [0, 0, 1, 0, 1, 1, 0, 1, 0, 0].map((w, i) => [i + 1, `w${w}`]),
    );
    expect(await trail.verify('turns')).toMatchObject({ ok: true, entries: 10 });
    for (const w of writers) (w as unknown as { redis: Redis }).redis.disconnect();
  });

  it('detects an entry changed in Redis and an entry removed from the end', async () => {
    const trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
    const stream = `${ns.installation.registryPrefix}:audit:echo`;
    const rows = await redis.xrange(stream, '-', '+');
    const [lastId, lastFields] = rows.at(-1)!;
    await redis.xdel(stream, lastId);
    expect(await trail.verify('echo')).toMatchObject({
      ok: false,
      problem: 'entries missing after the last one read',
    });
    await redis.xadd(stream, '*', ...lastFields);
    expect((await trail.verify('echo')).ok).toBe(true);
    // Rewrite the first entry: rebuild the stream with a forged decision in entry 1.
    const current = await redis.xrange(stream, '-', '+');
    await redis.del(stream);
    for (const [index, [, fields]] of current.entries()) {
      const entry = JSON.parse(fields[1]!) as Record<string, unknown>;
      await redis.xadd(
        stream,
        '*',
        'entry',
        JSON.stringify(index === 0 ? { ...entry, decision: 'deny' } : entry),
      );
    }
    expect(await trail.verify('echo')).toMatchObject({ ok: false, problem: 'entry 1: content changed' });
  });
});
