// How long the console trusts the role an ID token gave at sign-in, with the real console on its
// default configuration and the real development IdP: the role is never asked again during a
// session, so a role the IdP revokes holds until the session ends. That is 15 minutes, not the 8
// hours it was; after it the API is closed to the session, and only a new sign-in, where the IdP
// decides the role again, opens it.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { signInByFetch, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

const BOUND_MS = 15 * 60 * 1000;

let running: ConsoleAlone;
let origin: string;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-role-bound',
    users: [{ id: 'aldo', roles: ['auditor'] }],
  });
  ({ origin } = running);
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await running?.close();
});

const signIn = (login: string): Promise<string> => signInByFetch(origin, login);

async function me(session: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${origin}/api/me`, { headers: { cookie: session.split(';')[0]! } });
  return { status: res.status, body: await res.json() };
}

describe("the role a sign-in brought, by the console's defaults", () => {
  it('is trusted for 15 minutes, then only a new sign-in at the IdP opens the API', async () => {
    const session = await signIn('aldo');
    expect(session).toContain(`; Max-Age=${BOUND_MS / 1000}`);
    expect(await me(session)).toMatchObject({ status: 200, body: { sub: 'aldo', role: 'auditor' } });
    // Only the console's clock moves (the IdP's token checks are done for this session).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + BOUND_MS - 1_000 });
    expect((await me(session)).status).toBe(200);
    vi.setSystemTime(Date.now() + 1_000);
    expect(await me(session)).toEqual({
      status: 401,
      body: expect.objectContaining({ error: 'sign_in_required' }) as unknown,
    });
    vi.useRealTimers();
    expect((await me(session)).status).toBe(401);
    expect((await me(await signIn('aldo'))).body).toMatchObject({ sub: 'aldo', role: 'auditor' });
  });
});
