// How long the console trusts the role an ID token gave at sign-in, with the real console on its
// default configuration and the real development IdP: the role is never asked again during a
// session, so a role the IdP revokes holds until the session ends. That is 15 minutes, not the 8
// hours it was; after it the API is closed to the session, and only a new sign-in, where the IdP
// decides the role again, opens it.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { consoleConfig } from '../../console/config.ts';
import { startConsole, type RunningConsole } from '../../console/console-server.ts';
import { registerConsoleClient } from '../../dev/cli/dev-console.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { freePort } from '../support/stack.ts';

const BOUND_MS = 15 * 60 * 1000;
const initialAccessToken = randomBytes(24).toString('base64url');

let ns: TestNamespace;
let idp: StartedDevIdp;
let app: RunningConsole;
let origin: string;

beforeAll(async () => {
  ns = await testNamespace('console-role-bound');
  idp = await startDevIdp({
    port: 0,
    resources: [{ url: 'http://127.0.0.1:8080/mcp', scopes: ['records:read'] }],
    initialAccessToken,
    users: [{ id: 'aldo', roles: ['auditor'] }],
    logger: pino({ level: 'silent' }),
  });
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  const client = await registerConsoleClient({
    issuer: idp.issuer,
    initialAccessToken,
    consoleUrl: origin,
    clientName: `Bulkhead console (${ns.namespace})`,
  });
  // Nothing about sessions configured: the default is what is tested.
  app = await startConsole({
    ...consoleConfig.resolve({ port, issuer: idp.issuer, ...client, metricsTargets: [] }),
    installation: ns.installation,
    logger: pino({ level: 'silent' }),
  });
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await app?.close();
  await idp?.close();
  await ns?.cleanup();
});

/** A whole sign-in of `login` without a browser: the session cookie the console set. */
async function signIn(login: string): Promise<string> {
  const start = await fetch(`${origin}/auth/login`, { redirect: 'manual' });
  const pending = start.headers.getSetCookie()[0]!.split(';')[0]!;
  const back = await signInAtAuthorizationUrl(new URL(start.headers.get('location')!), {
    redirectUri: `${origin}/auth/callback`,
    login,
  });
  const done = await fetch(back, { headers: { cookie: pending } });
  expect(done.status).toBe(200);
  const session = done.headers.getSetCookie().find((c) => c.startsWith('bulkhead_console='));
  expect(session).toBeDefined();
  return session!;
}

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
