// Server-side sessions, kept in Redis and so shared by every console process of the installation:
// the browser holds only a random id in an httpOnly cookie; who is signed in, their role and the
// CSRF token live under the SHA-256 of that id, with the session's lifetime as the key's expiry. A
// browser a load balancer sends to another console process stays signed in, a sign-out ends the
// session at every process at once, and a restart signs nobody out. Redis holds the id's digest,
// never the id: read access to Redis gives no cookie to present. Bounded in number: each person's
// own oldest go first past their share, and past the installation's bound the oldest of whoever
// holds the most, so that nobody's sign-ins push out the session of a person holding fewer. Only a
// completed sign-in opens one. Sign-ins in progress are not kept here: each is sealed in its own
// browser's cookie (pending-sign-in.ts).
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { consolePersonSessionsKey, consoleSessionKey, consoleSessionsKey } from '../../kernel/redis/keys.ts';
import { CONSOLE_ROLES, type SignedInUser } from './oidc-client.ts';

const SessionSchema = z.strictObject({
  sub: z.string(),
  role: z.enum(CONSOLE_ROLES),
  /** The synchronizer token every action must carry (header `x-csrf-token`). */
  csrf: z.string(),
  expiresAtMs: z.number(),
});
export type Session = z.infer<typeof SessionSchema>;

/** What the sign-in routes need of the sessions (console/auth/auth-routes.ts). */
export interface Sessions {
  open(user: SignedInUser): Promise<string>;
  get(id: string | undefined): Promise<Session | undefined>;
  close(id: string | undefined): Promise<void>;
}

/**
 * Sessions one person keeps at once: their next sign-in ends their own oldest. Without it, the
 * installation's bound let anyone with a role (an auditor signing in in a loop, which the IdP
 * answers without a question while its own session lasts) end every other person's session, the
 * oldest of all going first.
 */
export const MAX_SESSIONS_PER_PERSON = 10;

/** 32 random bytes, base64url: what `open` hands out, and so the only shape `get` looks up. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** Whether `id` has the shape of a session id `open` hands out (whether or not it is open). */
export function isSessionId(id: string | undefined): id is string {
  return id !== undefined && SESSION_ID.test(id);
}

export interface SessionStoreOptions {
  redis: Redis;
  /** The installation's key prefix (kernel/redis/keys.ts). */
  prefix: string;
  ttlMs: number;
  /** Sessions kept at once: opening one more ends the oldest of whoever holds the most. */
  max: number;
}

export class SessionStore implements Sessions {
  readonly #o: SessionStoreOptions;

  constructor(options: SessionStoreOptions) {
    this.#o = options;
  }

  #key(digest: string): string {
    return consoleSessionKey(this.#o.prefix, digest);
  }

  async open(user: SignedInUser): Promise<string> {
    const { redis, prefix, ttlMs, max } = this.#o;
    const id = randomBytes(32).toString('base64url');
    const digest = digestOf(id);
    const now = Date.now();
    const session: Session = {
      ...user,
      csrf: randomBytes(32).toString('base64url'),
      expiresAtMs: now + ttlMs,
    };
    const index = consoleSessionsKey(prefix);
    const own = consolePersonSessionsKey(prefix, digestOf(user.sub));
    await redis
      .multi()
      .set(this.#key(digest), JSON.stringify(session), 'PX', ttlMs)
      // By opening time, to the millisecond: of sessions opened in the same one, any may go first.
      .zadd(index, now, digest)
      .zadd(own, now, digest)
      // Sessions opened a lifetime ago have expired with their keys; an index lives as long as its newest.
      .zremrangebyscore(index, '-inf', now - ttlMs)
      .zremrangebyscore(own, '-inf', now - ttlMs)
      .pexpire(index, ttlMs)
      .pexpire(own, ttlMs)
      .exec();
    // The person's share first, then the installation's bound, which their share now leaves room in.
    const mine = await this.#openOf(own);
    await this.#end(mine.slice(0, Math.max(0, mine.length - MAX_SESSIONS_PER_PERSON)), own);
    if ((await redis.zcard(index)) > max) await this.#end(await this.#overBound(index, max));
    return id;
  }

  /**
   * The sessions to end for the installation's bound: one at a time, the oldest of the person who
   * holds the most (of two holding as many, the one whose oldest is older). The oldest of all went
   * first before: people with a role and a few accounts each (the IdP decides who has one) could hold
   * every session of the installation, ten each, and each sign-in of theirs then ended an operator's.
   * Now a person with n sessions loses one only when nobody holds more. Read only past the bound:
   * every open session's record (at most the bound's), for whose it is.
   */
  async #overBound(index: string, max: number): Promise<string[]> {
    const { redis } = this.#o;
    const digests = await redis.zrange(index, 0, '-1');
    const records = await redis.mget(...digests.map((d) => this.#key(d)));
    // By person, each one's oldest first (their positions in the index); a session whose record is
    // gone (expired, closed) is no one's, and leaves the index.
    const byPerson = new Map<string, number[]>();
    const gone: string[] = [];
    digests.forEach((digest, age) => {
      const text = records[age];
      if (text === null || text === undefined) return void gone.push(digest);
      const parsed = SessionSchema.safeParse(JSON.parse(text));
      const person = parsed.success ? parsed.data.sub : digest;
      const held = byPerson.get(person);
      if (held) held.push(age);
      else byPerson.set(person, [age]);
    });
    const ending = [...gone];
    for (let excess = digests.length - gone.length - max; excess > 0; excess--) {
      let most: number[] = [];
      for (const held of byPerson.values())
        if (held.length > most.length || (held.length === most.length && held[0]! < most[0]!)) most = held;
      ending.push(digests[most.shift()!]!);
    }
    return ending;
  }

  /**
   * The digests in a person's index whose sessions are still open, oldest first: one closed, or
   * ended by the installation's bound, is dropped from it here rather than counted against them.
   */
  async #openOf(own: string): Promise<string[]> {
    const { redis } = this.#o;
    const digests = await redis.zrange(own, 0, '-1');
    const exists = redis.pipeline();
    for (const d of digests) exists.exists(this.#key(d));
    const answers = digests.length === 0 ? [] : ((await exists.exec()) ?? []);
    const present = digests.filter((_, i) => answers[i]?.[1] === 1);
    const gone = digests.filter((d) => !present.includes(d));
    if (gone.length > 0) await redis.zrem(own, ...gone);
    return present;
  }

  /**
   * Ends the sessions of `digests`, for every process. A person's index (`own`) loses them too;
   * another person's keeps them until their next sign-in finds them gone (#openOf).
   */
  async #end(digests: string[], own?: string): Promise<void> {
    if (digests.length === 0) return;
    const end = this.#o.redis
      .multi()
      .del(...digests.map((d) => this.#key(d)))
      .zrem(consoleSessionsKey(this.#o.prefix), ...digests);
    await (own === undefined ? end : end.zrem(own, ...digests)).exec();
  }

  async get(id: string | undefined): Promise<Session | undefined> {
    if (!isSessionId(id)) return undefined;
    const text = await this.#o.redis.get(this.#key(digestOf(id)));
    if (text === null) return undefined;
    const parsed = SessionSchema.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.expiresAtMs > Date.now()) return parsed.data;
    // Redis expires the key at the session's end; a console whose clock is ahead of Redis's ends it
    // when it sees the end, for every process.
    await this.close(id);
    return undefined;
  }

  async close(id: string | undefined): Promise<void> {
    if (!isSessionId(id)) return;
    const digest = digestOf(id);
    await this.#o.redis
      .multi()
      .del(this.#key(digest))
      .zrem(consoleSessionsKey(this.#o.prefix), digest)
      .exec();
  }
}

function digestOf(id: string): string {
  return hash('sha256', id, 'hex');
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(session: Session, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
