// The console's sign-in against anyone who can reach it, with the real console and the real
// development IdP: an operator's sign-in in progress survives more unauthenticated GET /auth/login
// than the old in-memory bound (1,000 entries, which such a loop emptied of every other browser's),
// and the cookie that carries it is refused when replayed, changed, missing or another browser's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import { startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

/** More than the old store's bound (BULKHEAD_CONSOLE_MAX_SESSIONS, 1,000 by default). */
const FLOOD = 1_200;
const FLOOD_CONCURRENCY = 8;

let running: ConsoleAlone;
let origin: string;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-flood',
    users: [
      { id: 'olivia', roles: ['operator'] },
      { id: 'aldo', roles: ['auditor'] },
    ],
  });
  ({ origin } = running);
});

afterAll(async () => {
  await running?.close();
});

/** GET /auth/login as a browser without cookies: the sign-in cookie it sets and where it sends it. */
async function beginSignIn(): Promise<{ cookie: string; setCookie: string; authorize: URL }> {
  const res = await fetch(`${origin}/auth/login`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const setCookie = res.headers.getSetCookie()[0] ?? '';
  return {
    cookie: setCookie.split(';')[0]!,
    setCookie,
    authorize: new URL(res.headers.get('location')!),
  };
}

/** The IdP's pages, as `login`: the callback URL it redirects the browser to. */
function atProvider(authorize: URL, login: string): Promise<URL> {
  return signInAtAuthorizationUrl(authorize, { redirectUri: `${origin}/auth/callback`, login });
}

async function callback(
  url: URL,
  cookie: string | undefined,
): Promise<{ status: number; body: string; cookies: string[] }> {
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: res.status, body: await res.text(), cookies: res.headers.getSetCookie() };
}

/** The session cookie a callback opened, if any. */
function sessionOf(cookies: string[]): string | undefined {
  const opened = cookies.find((c) => c.startsWith('bulkhead_console=') && !c.includes('Max-Age=0'));
  return opened?.split(';')[0];
}

async function me(session: string): Promise<unknown> {
  const res = await fetch(`${origin}/api/me`, { headers: { cookie: session } });
  expect(res.status).toBe(200);
  return res.json();
}

describe('the console sign-in, flooded', () => {
  it(`completes an operator's sign-in begun before ${FLOOD} unauthenticated GET /auth/login`, async () => {
    const operator = await beginSignIn();
    let sent = 0;
    const flooder = async (): Promise<void> => {
      while (sent < FLOOD) {
        sent += 1;
        const res = await fetch(`${origin}/auth/login`, { redirect: 'manual' });
        await res.arrayBuffer();
        expect(res.status).toBe(302);
      }
    };
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, flooder));
    expect(sent).toBe(FLOOD);
    const answer = await callback(await atProvider(operator.authorize, 'olivia'), operator.cookie);
    expect(answer.body).toContain('Signed in');
    expect(answer.status).toBe(200);
    const session = sessionOf(answer.cookies);
    expect(session).toBeDefined();
    expect(await me(session!)).toMatchObject({ sub: 'olivia', role: 'operator' });
  });
});

describe('the sign-in cookie', () => {
  it('is HttpOnly, SameSite=Lax, sent back to the callback only, for ten minutes', async () => {
    const { setCookie } = await beginSignIn();
    expect(setCookie).toMatch(/^bulkhead_console_signin=v1\.[\w-]+; /);
    expect(setCookie.split('; ').slice(1)).toEqual([
      'Path=/auth/callback',
      'HttpOnly',
      'SameSite=Lax',
      'Max-Age=600',
    ]);
  });

  it('signs in once: the same cookie and callback again is refused, and opens no session', async () => {
    const { cookie, authorize } = await beginSignIn();
    const url = await atProvider(authorize, 'aldo');
    const first = await callback(url, cookie);
    expect(first.status).toBe(200);
    expect(first.cookies).toContain(
      'bulkhead_console_signin=; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=0',
    );
    const again = await callback(url, cookie);
    expect(again.status).toBe(400);
    // The provider refuses a code exchanged before (RFC 6749, section 4.1.2).
    expect(again.body).toContain('the code exchange failed (HTTP 400: invalid_grant)');
    expect(sessionOf(again.cookies)).toBeUndefined();
  });

  it("refuses another browser's callback: the sign-in cookie does not match its state", async () => {
    const mine = await beginSignIn();
    const theirs = await beginSignIn();
    const answer = await callback(await atProvider(theirs.authorize, 'olivia'), mine.cookie);
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('does not match the request (state)');
    expect(sessionOf(answer.cookies)).toBeUndefined();
  });

  it('refuses a changed cookie, and none at all, with the page of an expired sign-in', async () => {
    const { cookie, authorize } = await beginSignIn();
    const url = await atProvider(authorize, 'olivia');
    const at = cookie.length - 10;
    const changed = cookie.slice(0, at) + (cookie[at] === 'A' ? 'B' : 'A') + cookie.slice(at + 1);
    for (const presented of [changed, undefined, 'bulkhead_console_signin=v1.', cookie.slice(0, -4)]) {
      const answer = await callback(url, presented);
      expect(answer.status).toBe(400);
      expect(answer.body).toContain('Sign-in expired');
      expect(answer.cookies).toEqual([
        'bulkhead_console_signin=; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=0',
      ]);
    }
    // The code was never spent: the untouched cookie still completes this sign-in.
    expect((await callback(url, cookie)).status).toBe(200);
  });
});
