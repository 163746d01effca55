import { describe, expect, it } from 'vitest';
import { createVerifiedTokenCache } from '../../router/auth/verified-token-cache.ts';

const DAY = 24 * 60 * 60;

function clock(startMs: number): { now: () => number; advance(ms: number): void } {
  let t = startMs;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('verified token cache', () => {
  const t0 = 1_800_000_000_000;
  const claims = (expIn: number, iatAgo = 0) => ({
    issuer: 'https://idp.test',
    payload: { exp: t0 / 1000 + expIn, iat: t0 / 1000 - iatAgo, tenant: 'alpha' },
  });

  it('answers a remembered token until its expiry, then forgets it', () => {
    const c = clock(t0);
    const cache = createVerifiedTokenCache({ maxAgeMs: 3_600_000, maxEntries: 10, now: c.now });
    cache.remember('token-a', claims(30), DAY);
    expect(cache.get('token-a')?.payload['tenant']).toBe('alpha');
    expect(cache.get('token-b')).toBeUndefined();
    c.advance(29_999);
    expect(cache.get('token-a')).toBeDefined();
    c.advance(1);
    expect(cache.get('token-a')).toBeUndefined();
  });

  it('ends an entry at its own bound and at the maximum token age, whichever is first', () => {
    const c = clock(t0);
    const cache = createVerifiedTokenCache({ maxAgeMs: 10_000, maxEntries: 10, now: c.now });
    cache.remember('long-lived', claims(3_600), DAY);
    cache.remember('old', claims(3_600, DAY - 5), DAY);
    c.advance(5_000);
    expect(cache.get('old')).toBeUndefined();
    expect(cache.get('long-lived')).toBeDefined();
    c.advance(5_000);
    expect(cache.get('long-lived')).toBeUndefined();
  });

  it('remembers nothing already expired, without exp or iat, or when turned off', () => {
    const c = clock(t0);
    const cache = createVerifiedTokenCache({ maxAgeMs: 60_000, maxEntries: 10, now: c.now });
    cache.remember('expired', claims(-1), DAY);
    cache.remember('no-exp', { issuer: 'i', payload: { iat: t0 / 1000 } }, DAY);
    expect(cache.size).toBe(0);
    const off = createVerifiedTokenCache({ maxAgeMs: 0, maxEntries: 10, now: c.now });
    off.remember('token', claims(60), DAY);
    expect(off.get('token')).toBeUndefined();
  });

  it('stays within its bound, dropping the oldest entry first', () => {
    const cache = createVerifiedTokenCache({ maxAgeMs: 60_000, maxEntries: 3, now: () => t0 });
    for (const token of ['t1', 't2', 't3', 't4']) cache.remember(token, claims(60), DAY);
    expect(cache.size).toBe(3);
    expect(cache.get('t1')).toBeUndefined();
    expect(cache.get('t4')).toBeDefined();
  });
});
