// The Redis session store behind 2025-11-25 sessions, on real Redis: ids, principal binding, sliding
// idle expiry (restarted only by the principal the session is bound to), termination, and the bound
// on the sessions one tenant holds in the shared Redis.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../router/identity/principal.ts';
import { SessionStore } from '../../router/mcp/sessions.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;

const alice: Principal = {
  tenant: 'alpha',
  user: 'alice',
  agent: 'agent-1',
  scopes: ['records:read'],
  issuer: 'http://127.0.0.1:9400',
  tokenId: 'jti-1',
  expiresAt: 0,
  roles: [],
  actors: [],
};

/** Alpha's record as the requests read it: its creation time is part of a session's binding. */
const alpha = { createdAt: '2026-12-01T10:00:00.000Z' };

function store(idleTtlSeconds = 60, maxPerTenant = 1_000): SessionStore {
  return new SessionStore({ redis, prefix: ns.installation.registryPrefix, idleTtlSeconds, maxPerTenant });
}

/** Opens a session of `principal` at alpha's record, and gives its id. */
async function open(sessions: SessionStore, principal: Principal = alice): Promise<string> {
  return (await sessions.create(principal, alpha, '2025-11-25')).id;
}

beforeAll(async () => {
  ns = await testNamespace('sessions');
  redis = new Redis(ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

describe('session store', () => {
  it('creates unguessable visible-ASCII ids whose record names the principal', async () => {
    const sessions = store();
    const [a, b] = await Promise.all([open(sessions), open(sessions)]);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await sessions.touch(a, alice, alpha)).toMatchObject({
      bound: true,
      record: {
        tenant: 'alpha',
        user: 'alice',
        agent: 'agent-1',
        issuer: alice.issuer,
        protocolVersion: '2025-11-25',
      },
    });
    expect(await redis.exists(`${ns.installation.registryPrefix}:mcp-session:${a}`)).toBe(1);
  });

  it('binds to issuer, tenant, user and agent, but not to scopes or the token itself', async () => {
    const sessions = store();
    const id = await open(sessions);
    const bound = async (principal: Principal, tenant = alpha) =>
      (await sessions.touch(id, principal, tenant))?.bound;
    expect(await bound({ ...alice, scopes: ['records:write'], tokenId: 'jti-2' })).toBe(true);
    expect(await bound({ ...alice, user: 'bob' })).toBe(false);
    expect(await bound({ ...alice, user: null })).toBe(false);
    expect(await bound({ ...alice, agent: 'agent-2' })).toBe(false);
    expect(await bound({ ...alice, tenant: 'bravo' })).toBe(false);
    expect(await bound({ ...alice, issuer: 'http://127.0.0.1:9401' })).toBe(false);
  });

  it("binds to the tenant record: a tenant onboarded again under the id does not continue the earlier one's session", async () => {
    const sessions = store();
    const id = await open(sessions);
    const key = `${ns.installation.registryPrefix}:mcp-session:${id}`;
    await redis.expire(key, 5);
    // Same issuer, tenant id, user and agent; the tenant's record created later.
    const again = { createdAt: '2026-12-02T09:00:00.000Z' };
    expect(await sessions.touch(id, alice, again)).toMatchObject({ bound: false });
    expect(await redis.ttl(key)).toBeLessThanOrEqual(5);
    expect((await sessions.touch(id, alice, alpha))?.bound).toBe(true);
  });

  it("checks the binding before the idle timer: another principal's request does not keep the session alive", async () => {
    const sessions = store(60);
    const id = await open(sessions);
    const key = `${ns.installation.registryPrefix}:mcp-session:${id}`;
    await redis.expire(key, 5);
    for (const other of [
      { ...alice, user: 'mallory' },
      { ...alice, agent: 'agent-2' },
      { ...alice, tenant: 'bravo' },
      { ...alice, issuer: 'http://127.0.0.1:9401' },
    ]) {
      await sessions.touch(id, other, alpha);
      expect(await redis.ttl(key)).toBeLessThanOrEqual(5);
    }
    // Its own principal's request restarts it.
    expect((await sessions.touch(id, alice, alpha))?.bound).toBe(true);
    expect(await redis.ttl(key)).toBeGreaterThan(5);
  });

  it('ends a session on terminate, for good', async () => {
    const sessions = store();
    const id = await open(sessions);
    expect(await sessions.terminate(id, 'alpha')).toBe(true);
    expect(await sessions.touch(id, alice, alpha)).toBeUndefined();
    expect(await sessions.terminate(id, 'alpha')).toBe(false);
  });

  it('expires an idle session, and every use restarts the idle timer', async () => {
    const sessions = store(2);
    const idle = await open(sessions);
    const busy = await open(sessions);
    await sleep(1_200);
    expect(await sessions.touch(busy, alice, alpha)).toBeDefined();
    await sleep(1_200);
    expect(await sessions.touch(idle, alice, alpha)).toBeUndefined();
    expect(await sessions.touch(busy, alice, alpha)).toBeDefined();
  });

  it('refuses ids that are not of its own shape without asking Redis', async () => {
    const sessions = store();
    for (const id of ['', 'short', `${'a'.repeat(42)}*`, `../${'a'.repeat(40)}`, 'x'.repeat(44)]) {
      expect(await sessions.touch(id, alice, alpha)).toBeUndefined();
      expect(await sessions.terminate(id, 'alpha')).toBe(false);
    }
  });

  it("ends a tenant's oldest session when it opens one past its bound, and no other tenant's", async () => {
    const sessions = store(60, 3);
    // A tenant of its own: the bound counts every session of a tenant in this namespace.
    const carol = { ...alice, tenant: 'gamma', user: 'carol' };
    const other = { ...alice, tenant: 'delta', user: 'dave' };
    const theirs = await open(sessions, other);
    const opened: string[] = [];
    for (let i = 0; i < 3; i++) opened.push(await open(sessions, carol));
    for (const id of opened) expect((await sessions.touch(id, carol, alpha))?.bound).toBe(true);

    // A fourth session of the tenant ends its oldest one, whoever of its principals holds it.
    const opening = await sessions.create({ ...carol, agent: 'agent-2' }, alpha, '2025-11-25');
    expect(opening.ended).toBe(1);
    const fourth = opening.id;
    expect(await sessions.touch(opened[0]!, carol, alpha)).toBeUndefined();
    expect((await sessions.touch(opened[1]!, carol, alpha))?.bound).toBe(true);
    expect((await sessions.touch(fourth, { ...carol, agent: 'agent-2' }, alpha))?.bound).toBe(true);
    expect((await sessions.touch(theirs, other, alpha))?.bound).toBe(true);

    // A session that ended (terminated or expired) no longer counts: the live ones stay.
    expect(await sessions.terminate(opened[1]!, 'gamma')).toBe(true);
    await redis.del(`${ns.installation.registryPrefix}:mcp-session:${opened[2]!}`);
    const fifth = await open(sessions, carol);
    const sixth = await open(sessions, carol);
    for (const [id, who] of [
      [fourth, { ...carol, agent: 'agent-2' }],
      [fifth, carol],
      [sixth, carol],
    ] as const)
      expect((await sessions.touch(id, who, alpha))?.bound).toBe(true);

    // A flood of initialize requests keeps the tenant at its bound in Redis.
    let ended = 0;
    for (let i = 0; i < 20; i++) ended += (await sessions.create(carol, alpha, '2025-11-25')).ended;
    expect(ended).toBe(20);
    const keys = await redis.keys(`${ns.installation.registryPrefix}:mcp-session:*`);
    const live = await Promise.all(
      keys.map(async (key) => JSON.parse((await redis.get(key)) ?? '{}') as { tenant?: string }),
    );
    expect(live.filter((record) => record.tenant === 'gamma')).toHaveLength(3);
    expect(live.filter((record) => record.tenant === 'delta')).toHaveLength(1);
  });

  it('keeps a session in use past any number of abandoned ones, and ends the least recently used', async () => {
    const sessions = store(2, 3);
    const erin = { ...alice, tenant: 'epsilon', user: 'erin' };
    const kept = await open(sessions, erin);
    // Opened after it and abandoned: both expire while the first is used.
    await open(sessions, erin);
    await open(sessions, erin);
    for (let i = 0; i < 5; i++) {
      await sleep(500);
      expect((await sessions.touch(kept, erin, alpha))?.bound).toBe(true);
    }
    // Two more: with the abandoned ones counted, the bound of three ended the session in use.
    const later = [await open(sessions, erin), await open(sessions, erin)];
    expect((await sessions.touch(kept, erin, alpha))?.bound).toBe(true);
    // Past the bound, the one used least recently ends: the first opened of the two later ones.
    const past = await sessions.create(erin, alpha, '2025-11-25');
    expect(past.ended).toBe(1);
    expect(await sessions.touch(later[0]!, erin, alpha)).toBeUndefined();
    for (const id of [kept, later[1]!, past.id])
      expect((await sessions.touch(id, erin, alpha))?.bound).toBe(true);
  });
});
