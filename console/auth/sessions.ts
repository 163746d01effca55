// Server-side sessions: the browser holds only a random id in an httpOnly cookie; who is signed in,
// their role and the CSRF token live here, in memory (one console process; a restart signs people
// out). Sign-ins in progress are kept the same way. Both are bounded: the oldest entries go first.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { PendingSignIn, SignedInUser } from './oidc-client.ts';

export interface Session extends SignedInUser {
  /** The synchronizer token every action must carry (header `x-csrf-token`). */
  csrf: string;
  expiresAtMs: number;
}

const PENDING_TTL_MS = 10 * 60 * 1000;

/** A Map that drops its oldest entries beyond `max` and entries past their expiry. */
class BoundedStore<T extends { expiresAtMs: number }> {
  readonly #entries = new Map<string, T>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  put(value: T): string {
    const id = randomBytes(32).toString('base64url');
    this.#entries.set(id, value);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#max) break;
      this.#entries.delete(oldest);
    }
    return id;
  }

  get(id: string | undefined, now = Date.now()): T | undefined {
    if (id === undefined) return undefined;
    const value = this.#entries.get(id);
    if (value && value.expiresAtMs <= now) {
      this.#entries.delete(id);
      return undefined;
    }
    return value;
  }

  take(id: string | undefined): T | undefined {
    const value = this.get(id);
    if (id !== undefined) this.#entries.delete(id);
    return value;
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.#entries.delete(id);
  }
}

export class SessionStore {
  readonly #sessions: BoundedStore<Session>;
  readonly #pending: BoundedStore<PendingSignIn & { expiresAtMs: number }>;
  readonly #ttlMs: number;

  constructor(options: { ttlMs: number; max: number }) {
    this.#ttlMs = options.ttlMs;
    this.#sessions = new BoundedStore(options.max);
    this.#pending = new BoundedStore(options.max);
  }

  beginSignIn(pending: PendingSignIn): string {
    return this.#pending.put({ ...pending, expiresAtMs: Date.now() + PENDING_TTL_MS });
  }

  /** A sign-in in progress is used once. */
  takeSignIn(id: string | undefined): PendingSignIn | undefined {
    return this.#pending.take(id);
  }

  open(user: SignedInUser): string {
    return this.#sessions.put({
      ...user,
      csrf: randomBytes(32).toString('base64url'),
      expiresAtMs: Date.now() + this.#ttlMs,
    });
  }

  get(id: string | undefined): Session | undefined {
    return this.#sessions.get(id);
  }

  close(id: string | undefined): void {
    this.#sessions.delete(id);
  }
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(session: Session, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
