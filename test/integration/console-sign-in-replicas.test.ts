// A sign-in begun at one console process completes at another of the same console, as behind a load
// balancer: both seal sign-ins in progress under the key they derive alike from the seed in Redis
// and the client secret (console/auth/pending-sign-in.ts). A sign-in begun as another client does
// not open, and the seed in Redis alone opens none. Real consoles on one Redis, behind one
// development IdP.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PendingSignIns } from '../../console/auth/pending-sign-in.ts';
import type { RunningConsole } from '../../console/console-server.ts';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import { signInSeedKey } from '../../kernel/redis/keys.ts';
import { startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

let running: ConsoleAlone;
/** The same console's other process: its own port, the first one's client and public URL. */
let replica: RunningConsole;
let redis: Redis;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-replicas',
    users: [{ id: 'aldo', roles: ['auditor'] }],
  });
  replica = await running.replica();
  redis = new Redis(running.ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await running?.close();
});

/** GET /auth/login at `at`, signed in at the IdP: the sign-in cookie and the callback's URL. */
async function begin(at: string, login: string): Promise<{ cookie: string; callback: URL }> {
  const start = await fetch(`${at}/auth/login`, { redirect: 'manual' });
  const authorize = new URL(start.headers.get('location')!);
  const callback = new URL(
    await signInAtAuthorizationUrl(authorize, {
      redirectUri: authorize.searchParams.get('redirect_uri')!,
      login,
    }),
  );
  return { cookie: start.headers.getSetCookie()[0]!.split(';')[0]!, callback };
}

/** The callback's request sent to `at` instead of where the IdP sent the browser. */
async function completeAt(at: string, started: { cookie: string; callback: URL }) {
  const { pathname, search } = started.callback;
  const res = await fetch(`${at}${pathname}${search}`, { headers: { cookie: started.cookie } });
  const session = res.headers.getSetCookie().find((c) => c.startsWith('bulkhead_console='));
  return { status: res.status, body: await res.text(), session: session?.split(';')[0] };
}

describe("a sign-in over the same console's processes", () => {
  it('begun at one completes at the other, which then serves the session', async () => {
    const started = await begin(running.app.url, 'aldo');
    // The IdP sends the browser to the console's public URL, which either process may answer.
    expect(started.callback.origin).toBe(running.origin);
    const done = await completeAt(replica.url, started);
    expect(done.status).toBe(200);
    const me = await fetch(`${replica.url}/api/me`, { headers: { cookie: done.session! } });
    expect(await me.json()).toMatchObject({ sub: 'aldo', role: 'auditor' });
    // And the other way round.
    expect((await completeAt(running.app.url, await begin(replica.url, 'aldo'))).status).toBe(200);
  });

  it('does not open a sign-in begun as another client, and the seed in Redis alone opens none', async () => {
    const other = await running.another();
    const started = await begin(other.app.url, 'aldo');
    const done = await completeAt(running.app.url, started);
    expect([done.status, done.session]).toEqual([400, undefined]);
    expect(done.body).toContain('Sign-in expired');
    const seed = await redis.get(signInSeedKey(running.ns.installation.registryPrefix));
    expect(Buffer.from(seed!, 'base64url')).toHaveLength(32);
    const value = decodeURIComponent(started.cookie.slice(started.cookie.indexOf('=') + 1));
    expect(new PendingSignIns({ key: Buffer.from(seed!, 'base64url') }).open(value)).toBeUndefined();
  });
});
