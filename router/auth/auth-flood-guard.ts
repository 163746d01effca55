// Before authentication: a flood of invalid or unknown tokens from one source address is refused
// before the verifier spends CPU on it (and before an unknown `kid` makes it fetch a JWKS). Each
// refused token takes one unit from its source's bucket (`burst` units, refilled at `refillPerSecond`);
// while the bucket is empty, that source's tokens get 429 with Retry-After without being verified,
// except tokens this router verified before (kept until they expire), so an agent behind the same
// address as an attacker keeps its service. Per router process on purpose: verification CPU is
// per process. Tenant budgets are a different matter and never key on addresses.
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

  /** Whether a token from `source` may be verified now. */
  admit(source: string, token: string): FloodVerdict {
    const { units } = this.bucket(source);
    if (units >= 1) return { admitted: true };
    // Only a source over its allowance pays for looking the token up.
    const goodUntil = this.good.get(digest(token));
    if (goodUntil !== undefined && goodUntil > this.now()) return { admitted: true };
    return { admitted: false, retryAfterMs: Math.ceil(((1 - units) / this.options.refillPerSecond) * 1000) };
  }

  /** A token from `source` was refused: it takes one unit. */
  refused(source: string): void {
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
