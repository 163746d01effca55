// A sign-in in progress sealed into its browser's cookie (console/auth/pending-sign-in.ts): it opens
// as it was sealed, under the key it was sealed with, before its time is up, and to nothing otherwise
// (a changed, cut, foreign, expired or other-purpose value). The whole flow with the real console
// and IdP, a flood of unauthenticated sign-ins included: test/integration/console-sign-in-flood.test.ts.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AuthRoutes } from '../../console/auth/auth-routes.ts';
import type { OidcClient } from '../../console/auth/oidc-client.ts';
import { PENDING_TTL_MS, PendingSignIns } from '../../console/auth/pending-sign-in.ts';
import type { Session, Sessions } from '../../console/auth/sessions.ts';
import { sealText } from '../../kernel/secrets/aead.ts';

const pending = { state: 'state-1', nonce: 'nonce-1', verifier: 'verifier-'.padEnd(43, 'v') };

/** The sessions port where no session may open: an expired sign-in never reaches it. */
class NoSessions implements Sessions {
  open(): Promise<string> {
    return Promise.reject(new Error('an expired sign-in opened a session'));
  }
  get(): Promise<Session | undefined> {
    return Promise.resolve(undefined);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let at = start;
  return { now: () => at, advance: (ms) => (at += ms) };
}

describe('PendingSignIns', () => {
  it('opens what it sealed, whose verifier the cookie does not show', () => {
    const signIns = new PendingSignIns();
    const sealed = signIns.seal(pending);
    expect(sealed).toMatch(/^v1\.[\w-]+$/);
    expect(sealed).not.toContain(pending.verifier);
    expect(Buffer.from(sealed.slice(3), 'base64url').toString('latin1')).not.toContain('verifier');
    expect(signIns.open(sealed)).toEqual(pending);
    // Each seal is fresh (a random IV): two sign-ins with the same values give different cookies.
    expect(signIns.seal(pending)).not.toBe(sealed);
    // The session the browser held, which the sign-in replaces, travels sealed with it.
    const replacing = { ...pending, replaces: 'S'.repeat(43) };
    const again = signIns.seal(replacing);
    expect(again).not.toContain(replacing.replaces);
    expect(signIns.open(again)).toEqual(replacing);
  });

  it('opens until its ten minutes are up, and not after', () => {
    const time = clock();
    const signIns = new PendingSignIns({ now: time.now });
    const sealed = signIns.seal(pending);
    time.advance(PENDING_TTL_MS - 1);
    expect(signIns.open(sealed)).toEqual(pending);
    time.advance(1);
    expect(signIns.open(sealed)).toBeUndefined();
  });

  it('refuses a changed or cut value, another format and none at all', () => {
    const signIns = new PendingSignIns();
    const sealed = signIns.seal(pending);
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    for (let i = 0; i < bytes.length; i += 7) {
      const changed = Buffer.from(bytes);
      changed[i]! ^= 0x01;
      expect(signIns.open(`v1.${changed.toString('base64url')}`), `byte ${i}`).toBeUndefined();
    }
    for (const value of [
      sealed.slice(0, -1),
      sealed.slice(0, 20),
      'v1.',
      sealed.slice(3),
      `v2.${sealed.slice(3)}`,
      '',
      undefined,
    ])
      expect(signIns.open(value)).toBeUndefined();
  });

  it('refuses a sign-in sealed under another key (another client, another installation)', () => {
    const sealed = new PendingSignIns().seal(pending);
    expect(new PendingSignIns().open(sealed)).toBeUndefined();
  });

  it('refuses a value sealed under the same key for another purpose, or without an expiry', () => {
    const key = randomBytes(32);
    const signIns = new PendingSignIns({ key });
    const text = JSON.stringify({ ...pending, expiresAtMs: Date.now() + PENDING_TTL_MS });
    const elsewhere = sealText(key, 'bulkhead idempotency records v1', text).toString('base64url');
    expect(signIns.open(`v1.${elsewhere}`)).toBeUndefined();
    // Sealed for this purpose but not by seal(): the shape is checked, an expiry required.
    const purpose = 'bulkhead console pending sign-in v1';
    const noExpiry = sealText(key, purpose, JSON.stringify(pending)).toString('base64url');
    expect(signIns.open(`v1.${noExpiry}`)).toBeUndefined();
    const forever = sealText(key, purpose, JSON.stringify({ ...pending, expiresAtMs: 'never' }));
    expect(signIns.open(`v1.${forever.toString('base64url')}`)).toBeUndefined();
    expect(signIns.open(`v1.${sealText(key, purpose, text).toString('base64url')}`)).toEqual(pending);
  });
});

describe('the callback with an expired sign-in', () => {
  it('answers the page of a missing sign-in, clears the cookie and never reaches the provider', async () => {
    const time = clock();
    let completed = 0;
    const oidc: OidcClient = {
      begin: () => ({ pending, url: 'http://127.0.0.1:1/authorize' }),
      complete: () => {
        completed += 1;
        return Promise.resolve({ sub: 'olivia', role: 'operator' });
      },
    };
    const auth = new AuthRoutes({
      oidc,
      sessions: new NoSessions(),
      signIns: new PendingSignIns({ now: time.now }),
      origin: 'https://console.example',
      sessionTtlMs: 60_000,
    });
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'https://console.example');
      if (url.pathname === '/auth/login') auth.login(req, res);
      else void auth.callback(req, res, url);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const login = await fetch(`${base}/auth/login`, { redirect: 'manual' });
      const setCookie = login.headers.getSetCookie()[0]!;
      // Secure where the console's own URL is https, as its session cookie.
      expect(setCookie).toMatch(/; Path=\/auth\/callback; HttpOnly; SameSite=Lax; Max-Age=600; Secure$/);
      time.advance(PENDING_TTL_MS);
      const answer = await fetch(`${base}/auth/callback?state=${pending.state}&code=c`, {
        headers: { cookie: setCookie.split(';')[0]! },
      });
      expect(answer.status).toBe(400);
      expect(await answer.text()).toContain('Sign-in expired');
      expect(answer.headers.getSetCookie()).toEqual([
        '__Secure-bulkhead_console_signin=; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=0; Secure',
      ]);
      expect(completed).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
