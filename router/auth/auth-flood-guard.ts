// Before authentication: a flood of invalid or unknown tokens from one source address is refused
// before the verifier spends CPU on it (and before an unknown `kid` makes it fetch a JWKS). Each
// refused token takes one unit from its source's bucket (`burst` units, refilled at `refillPerSecond`);
// while the bucket is empty, that source's tokens get 429 with Retry-After without being verified,
// except tokens this router verified before (kept until they expire), so an agent behind the same
// address as an attacker keeps its service. Per router process on purpose: verification CPU is
// per process. Tenant budgets are a different matter and never key on addresses.
//
// A source is an IPv4 address, or an IPv6 address's /64: the 64 bits below it are the host's own to
// choose (privacy addresses, any address of the /64 routed to it), so keyed by the whole address one
// host would take a fresh bucket with every token.
import { unmappedAddress } from '../../kernel/wire/ip-address.ts';
import { tokenDigest } from './verified-token-cache.ts';

export interface AuthFloodGuardOptions {
  /** Refused tokens a source may send at once. */
  burst: number;
  /** How fast its allowance comes back. */
  refillPerSecond: number;
  /** Sources and good tokens remembered at most (the least recently used are forgotten). */
  maxEntries?: number;
  now?: () => number;
}

export type FloodVerdict = { admitted: true } | { admitted: false; retryAfterMs: number };

interface Bucket {
  units: number;
  at: number;
}

const DEFAULT_MAX_ENTRIES = 10_000;

const digest = tokenDigest;

const ADMITTED: FloodVerdict = { admitted: true };

/** The source a peer address counts under: IPv4 as it is (also mapped), IPv6 by its /64. */
export function floodSource(address: string): string {
  const ip = unmappedAddress(address.split('%')[0]!); // a link-local zone names the interface, not the host
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  // What `::` stands for: the zero groups the others leave of eight (a dotted IPv4 tail is two).
  const zeros = 8 - left.length - right.length - (tail.includes('.') ? 1 : 0);
  const groups = [...left, ...Array<string>(Math.max(0, zeros)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** A Map used as an LRU: re-inserting moves a key to the end; the first key is the oldest. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}

export class AuthFloodGuard {
  private readonly options: AuthFloodGuardOptions;
  private readonly buckets = new Map<string, Bucket>();
  private readonly good = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: AuthFloodGuardOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  private bucket(source: string): Bucket {
    const now = this.now();
    const found = this.buckets.get(source) ?? { units: this.options.burst, at: now };
    const units = Math.min(
      this.options.burst,
      found.units + ((now - found.at) / 1000) * this.options.refillPerSecond,
    );
    return { units, at: now };
  }

  /** Whether a token from `source` (the peer's address) may be verified now. */
  admit(source: string, token: string): FloodVerdict {
    // No source has had a token refused: nothing to look up (the common case).
    if (this.buckets.size === 0) return ADMITTED;
    const { units } = this.bucket(floodSource(source));
    if (units >= 1) return ADMITTED;
    // Only a source over its allowance pays for looking the token up.
    const goodUntil = this.good.get(digest(token));
    if (goodUntil !== undefined && goodUntil > this.now()) return ADMITTED;
    return { admitted: false, retryAfterMs: Math.ceil(((1 - units) / this.options.refillPerSecond) * 1000) };
  }

  /** A token from `source` was refused: it takes one unit. */
  refused(address: string): void {
    const source = floodSource(address);
    const bucket = this.bucket(source);
    remember(
      this.buckets,
      source,
      { units: Math.max(0, bucket.units - 1), at: bucket.at },
      this.options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    );
  }

  /** A token was verified: it is admitted until it expires (`expiresAt` in seconds, as in a JWT). */
  verified(token: string, expiresAt: number): void {
    remember(this.good, digest(token), expiresAt * 1000, this.options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }
}
