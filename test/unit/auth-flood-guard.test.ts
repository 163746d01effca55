// The pre-authentication limit per source address, on a fake clock: refused tokens use up their
// source's allowance, which comes back over time; other sources and tokens verified before are not
// touched.
import { describe, expect, it } from 'vitest';
import { AuthFloodGuard } from '../../router/auth/auth-flood-guard.ts';

function guardAt(): { guard: AuthFloodGuard; advance: (ms: number) => void } {
  let now = 1_000_000;
  const guard = new AuthFloodGuard({ burst: 3, refillPerSecond: 2, maxEntries: 4, now: () => now });
  return { guard, advance: (ms) => void (now += ms) };
}

describe('AuthFloodGuard', () => {
  it('admits a source until it has had `burst` tokens refused, then says when to retry', () => {
    const { guard } = guardAt();
    for (let i = 0; i < 3; i++) {
      expect(guard.admit('10.0.0.1', `bad-${i}`)).toEqual({ admitted: true });
      guard.refused('10.0.0.1');
    }
    expect(guard.admit('10.0.0.1', 'bad-3')).toEqual({ admitted: false, retryAfterMs: 500 });
    expect(guard.admit('10.0.0.2', 'bad-0')).toEqual({ admitted: true });
  });

  it('gives the allowance back at the refill rate, never above the burst', () => {
    const { guard, advance } = guardAt();
    for (let i = 0; i < 3; i++) guard.refused('10.0.0.1');
    advance(250);
    expect(guard.admit('10.0.0.1', 'x')).toEqual({ admitted: false, retryAfterMs: 250 });
    advance(250);
    expect(guard.admit('10.0.0.1', 'x')).toEqual({ admitted: true });
    advance(60_000);
    for (let i = 0; i < 3; i++) guard.refused('10.0.0.1');
    expect(guard.admit('10.0.0.1', 'x').admitted).toBe(false);
  });

  it('keeps admitting a token it verified, until the token expires', () => {
    const { guard, advance } = guardAt();
    guard.verified('good-token', 1_000 + 10); // expires 10 s after the fake clock's start
    for (let i = 0; i < 3; i++) guard.refused('10.0.0.1');
    expect(guard.admit('10.0.0.1', 'good-token')).toEqual({ admitted: true });
    expect(guard.admit('10.0.0.1', 'other-token').admitted).toBe(false);
    advance(11_000);
    for (let i = 0; i < 30; i++) guard.refused('10.0.0.1');
    expect(guard.admit('10.0.0.1', 'good-token').admitted).toBe(false);
  });

  it('counts an IPv6 source by its /64, whose lower half its host chooses, and a mapped IPv4 as IPv4', () => {
    const { guard } = guardAt();
    // One host of a /64 takes a fresh address per refused token (any of 2^64 routes to it).
    for (const host of ['1', 'abcd', 'fe:dc:ba:98']) guard.refused(`2001:db8:0:1::${host}`);
    expect(guard.admit('2001:0db8:0000:0001:1111:2222:3333:4444', 'x').admitted).toBe(false);
    expect(guard.admit('2001:db8:0:1::5%eth0', 'x').admitted).toBe(false);
    expect(guard.admit('2001:db8::1:2:3:4:5', 'x').admitted).toBe(false);
    expect(guard.admit('2001:db8:0:2::1', 'x')).toEqual({ admitted: true });
    // A dual-stack listener sees an IPv4 peer as ::ffff:a.b.c.d.
    for (let i = 0; i < 3; i++) guard.refused('::ffff:10.0.0.9');
    expect(guard.admit('10.0.0.9', 'x').admitted).toBe(false);
  });

  it('remembers at most maxEntries sources, forgetting the least recent', () => {
    const { guard } = guardAt();
    for (let i = 0; i < 3; i++) guard.refused('10.0.0.1');
    for (const source of ['a', 'b', 'c', 'd']) guard.refused(source);
    expect(guard.admit('10.0.0.1', 'x')).toEqual({ admitted: true });
  });
});
