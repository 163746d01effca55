// The Redis session store behind 2025-11-25 sessions, on real Redis: ids, principal binding, sliding
// idle expiry and termination.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../router/identity/principal.ts';
import { sameBinding, SessionStore } from '../../router/mcp/sessions.ts';
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

function store(idleTtlSeconds = 60): SessionStore {
  return new SessionStore({ redis, prefix: ns.installation.registryPrefix, idleTtlSeconds });
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
    const [a, b] = await Promise.all([
      sessions.create(alice, '2025-11-25'),
      sessions.create(alice, '2025-11-25'),
    ]);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await sessions.touch(a)).toMatchObject({
      tenant: 'alpha',
      user: 'alice',
      agent: 'agent-1',
      issuer: alice.issuer,
      protocolVersion: '2025-11-25',
    });
    expect(await redis.exists(`${ns.installation.registryPrefix}:mcp-session:${a}`)).toBe(1);
  });

  it('binds to issuer, tenant, user and agent, but not to scopes or the token itself', () => {
    const record = { ...alice, protocolVersion: '2025-11-25', createdAt: '' };
    expect(sameBinding(record, { ...alice, scopes: ['records:write'], tokenId: 'jti-2' })).toBe(true);
    expect(sameBinding(record, { ...alice, user: 'bob' })).toBe(false);
    expect(sameBinding(record, { ...alice, user: null })).toBe(false);
    expect(sameBinding(record, { ...alice, agent: 'agent-2' })).toBe(false);
    expect(sameBinding(record, { ...alice, tenant: 'bravo' })).toBe(false);
    expect(sameBinding(record, { ...alice, issuer: 'http://127.0.0.1:9401' })).toBe(false);
  });

  it('ends a session on terminate, for good', async () => {
    const sessions = store();
    const id = await sessions.create(alice, '2025-11-25');
    expect(await sessions.terminate(id)).toBe(true);
    expect(await sessions.touch(id)).toBeUndefined();
    expect(await sessions.terminate(id)).toBe(false);
  });

  it('expires an idle session, and every use restarts the idle timer', async () => {
    const sessions = store(2);
    const idle = await sessions.create(alice, '2025-11-25');
    const busy = await sessions.create(alice, '2025-11-25');
    await sleep(1_200);
    expect(await sessions.touch(busy)).toBeDefined();
    await sleep(1_200);
    expect(await sessions.touch(idle)).toBeUndefined();
    expect(await sessions.touch(busy)).toBeDefined();
  });

  it('refuses ids that are not of its own shape without asking Redis', async () => {
    const sessions = store();
    for (const id of ['', 'short', `${'a'.repeat(42)}*`, `../${'a'.repeat(40)}`, 'x'.repeat(44)]) {
      expect(await sessions.touch(id)).toBeUndefined();
      expect(await sessions.terminate(id)).toBe(false);
    }
  });
});
