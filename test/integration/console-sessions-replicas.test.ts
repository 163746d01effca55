// A signed-in browser over two processes of one console behind one address (a load balancer):
// the session a sign-in opened at one process is served by the other, and a sign-out at either ends
// it at both. Sessions live in Redis (console/auth/sessions.ts), under the installation's prefix,
// with the session's lifetime as the key's expiry, and Redis never holds the id the cookie carries.
// Real consoles on one Redis, behind one development IdP.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningConsole } from '../../console/console-server.ts';
import { SessionStore } from '../../console/auth/sessions.ts';
import { signInByFetch, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

const TTL_MS = 15 * 60 * 1000;

let running: ConsoleAlone;
let replica: RunningConsole;
let redis: Redis;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-sessions',
    users: [
      { id: 'olivia', roles: ['operator'] },
      { id: 'aldo', roles: ['auditor'] },
    ],
  });
  replica = await running.replica();
  redis = new Redis(running.ns.installation.redis);
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  redis?.disconnect();
  await running?.close();
});

async function me(at: string, cookie: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${at}/api/me`, { headers: { cookie } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The console's session keys in Redis now, with their remaining lifetime. */
async function sessionKeys(): Promise<{ key: string; ttlMs: number }[]> {
  const keys = await redis.keys(`${running.ns.installation.registryPrefix}:console:session:*`);
  return Promise.all(keys.map(async (key) => ({ key, ttlMs: await redis.pttl(key) })));
}

describe("a session over the same console's processes", () => {
  it('opened at one is served by the other, and a sign-out at either ends it at both', async () => {
    const cookie = (await signInByFetch(running.origin, 'olivia')).split(';')[0]!;
    const id = cookie.slice(cookie.indexOf('=') + 1);
    const there = await me(replica.url, cookie);
    expect(there).toMatchObject({ status: 200, body: { sub: 'olivia', role: 'operator' } });
    expect((await me(running.app.url, cookie)).body).toEqual(there.body);

    // Kept in Redis under the installation's prefix, expiring with the session, never by its id.
    const kept = await sessionKeys();
    expect(kept).toHaveLength(1);
    expect(kept[0]!.ttlMs).toBeGreaterThan(0);
    expect(kept[0]!.ttlMs).toBeLessThanOrEqual(TTL_MS);
    expect(kept[0]!.key).not.toContain(id);
    expect(await redis.get(kept[0]!.key)).not.toContain(id);

    // Signed out at the replica, with the CSRF token the other process handed out.
    const out = await fetch(`${replica.url}/auth/logout`, {
      method: 'POST',
      headers: { cookie, origin: running.origin, 'x-csrf-token': String(there.body['csrf']) },
    });
    // Then to sign out at the IdP too (RP-initiated logout), which the development IdP offers.
    expect(out.status).toBe(200);
    expect(((await out.json()) as { endSession: string }).endSession).toMatch(/\/session\/end\?client_id=/);
    for (const at of [running.app.url, replica.url])
      expect(await me(at, cookie)).toMatchObject({ status: 401, body: { error: 'sign_in_required' } });
    expect(await sessionKeys()).toEqual([]);
  });

  it('keeps each sign-in its own session, and no id it did not hand out opens one', async () => {
    const [a, b] = [
      await signInByFetch(running.origin, 'aldo'),
      await signInByFetch(running.origin, 'olivia'),
    ];
    expect((await me(replica.url, a.split(';')[0]!)).body).toMatchObject({ sub: 'aldo', role: 'auditor' });
    expect((await me(replica.url, b.split(';')[0]!)).body).toMatchObject({ sub: 'olivia', role: 'operator' });
    // The key's name in Redis is no cookie, nor is an id of the right shape it never handed out.
    const [kept] = await sessionKeys();
    const digest = kept!.key.slice(kept!.key.lastIndexOf(':') + 1);
    for (const forged of [digest, 'A'.repeat(43)])
      expect((await me(replica.url, `bulkhead_console=${forged}`)).status).toBe(401);
  });

  it('keeps at most its bound, the oldest going first, in every process alike', async () => {
    const prefix = `${running.ns.installation.registryPrefix}:bound`;
    const [one, two] = [0, 1].map(() => new SessionStore({ redis, prefix, ttlMs: TTL_MS, max: 2 }));
    const ids = [];
    // Opened a millisecond apart: the order is the opening time's (sessions of one millisecond tie).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    for (const sub of ['s1', 's2', 's3']) {
      ids.push(await one!.open({ sub, role: 'auditor' }));
      vi.setSystemTime(Date.now() + 1);
    }
    // Opened at the one, read at the other: the first is gone, the two newest are kept.
    const seen = await Promise.all(ids.map(async (id) => (await two!.get(id))?.sub));
    expect(seen).toEqual([undefined, 's2', 's3']);
    expect(await redis.zcard(`${prefix}:console:sessions`)).toBe(2);
    await two!.close(ids[2]);
    expect(await one!.get(ids[2])).toBeUndefined();
    expect(await redis.zcard(`${prefix}:console:sessions`)).toBe(1);
  });
});
