// Server-side sessions: the browser holds only a random id in an httpOnly cookie; who is signed in,
// their role and the CSRF token live here, in memory (one console process; a restart signs people
// out), bounded: the oldest go first. Only a completed sign-in opens one. Sign-ins in progress are
// not kept here: each is sealed in its own browser's cookie (pending-sign-in.ts).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { SignedInUser } from './oidc-client.ts';

export interface Session extends SignedInUser {
  /** The synchronizer token every action must carry (header `x-csrf-token`). */
  csrf: string;
  expiresAtMs: number;
}

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

  delete(id: string | undefined): void {
    if (id !== undefined) this.#entries.delete(id);
  }
}

export class SessionStore {
  readonly #sessions: BoundedStore<Session>;
  readonly #ttlMs: number;

  constructor(options: { ttlMs: number; max: number }) {
    this.#ttlMs = options.ttlMs;
    this.#sessions = new BoundedStore(options.max);
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
