// 2025-11-25 sessions (`Mcp-Session-Id`), shared by every router replica through Redis.
//
// Why Redis state and not a sealed (signed) session id: a session must end for good on DELETE (404
// afterwards) and on idle expiry, on every replica at once. A sealed id still needs a revocation
// lookup in Redis on every request, so it saves no round trip, and it adds a sealing key that every
// replica must share and rotate. An opaque 256-bit random id with its record in Redis gives the same
// one-round-trip-per-request cost, instant termination (DEL), sliding idle expiry (the key's TTL) and
// nothing for a client to decode. No replica keeps session state in memory, so no sticky routing.
//
// A session is bound to the principal that created it: issuer, tenant, user and agent, and to the
// tenant's record by its `createdAt`, so that a session of a tenant since offboarded is not one of
// a tenant onboarded again under the same id (its principals may well bear the same names). Scopes are not
// part of the binding (a step-up token for the same user and agent continues the session); they are
// re-checked on every request anyway, because each request builds its server from its own token.
// The binding is checked before the idle timer restarts, in one step in Redis (session-touch.lua):
// a request of another principal that names the session (its id leaked) neither uses it nor keeps
// it alive.
//
// Opening a session costs nothing but an `initialize`, which no rate limit charges, and its record
// stays for the idle lifetime: without a bound, one tenant's client could fill the Redis every
// tenant shares (about 570 sessions a second from one client on two cores, 520 bytes each). So a
// tenant holds at most `maxPerTenant` live sessions; opening one more ends its least recently used
// (session-open.lua: each use moves a session to the back of its tenant's index, so a session kept in
// use outlasts any number of abandoned ones, and those past the idle lifetime do not count), whose
// client gets 404 on its next request and, as the transport asks, opens a new one. The bound is
// per tenant, not per principal: a principal's agent is whatever client the IdP registers, and open
// registration makes as many as anyone asks for.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { mcpSessionKey, mcpTenantSessionsKey } from '../../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../../kernel/redis/scripts.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { Principal } from '../identity/principal.ts';

export interface SessionRecord {
  issuer: string;
  tenant: string;
  user: string | null;
  agent: string;
  /** The tenant record's `createdAt` when the session opened (null: no record). */
  tenantCreatedAt: string | null;
  protocolVersion: string;
  createdAt: string;
  /** The fields above that the session is bound to, as one text (bindingOf), compared in Redis. */
  binding: string;
  /** The lowest log level the client wants (logging/setLevel); every level when absent. */
  logLevel?: string;
  /**
   * The questions the client declared it answers (input-rounds.ts, declaredQuestions); absent on a
   * session opened before they were kept, whose client is asked as before.
   */
  asks?: string[];
}

export interface SessionStoreOptions {
  redis: Redis;
  /** Key prefix, e.g. `bulkhead:<namespace>`; a session lives under `mcpSessionKey(prefix, id)`. */
  prefix: string;
  /** Idle lifetime: every request on the session restarts it. */
  idleTtlSeconds: number;
  /** Sessions one tenant holds; opening one more ends its least recently used. Default: MAX_SESSIONS_PER_TENANT. */
  maxPerTenant?: number | undefined;
}

/** The default bound on one tenant's sessions (BULKHEAD_MAX_SESSIONS_PER_TENANT). */
export const MAX_SESSIONS_PER_TENANT = 1_000;

/**
 * How long a tenant's index of its sessions outlives the last session it opened. Longer than any
 * idle lifetime (a day at most), so that a session kept in use stays counted; a session kept in use
 * for a week in which its tenant opened no other one falls out of the count.
 */
const TENANT_INDEX_TTL_SECONDS = 7 * 86_400;

/** A session just opened, and how many of its tenant's least recently used ones that ended (its bound). */
export interface OpenedSession {
  id: string;
  ended: number;
}

/** Visible ASCII only (2025-11-25 transports spec), and long enough to be unguessable. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The tenant record a request read (none: null), as far as a session is bound to it. */
export type SessionTenant = Pick<TenantRecord, 'createdAt'> | undefined;

/** What a session is bound to, as the one text its record keeps and a request's must equal. */
export function bindingOf(principal: Principal, tenant: SessionTenant): string {
  const { issuer, user, agent } = principal;
  return JSON.stringify([issuer, principal.tenant, user, agent, tenant?.createdAt ?? null]);
}

/** A live session's record, and whether the request's principal is the one it is bound to. */
export interface TouchedSession {
  record: SessionRecord;
  /** False: another principal's session, refused, its idle timer left as it was. */
  bound: boolean;
}

export class SessionStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #max: number;
  readonly #scripts: RedisScripts;

  constructor(options: SessionStoreOptions) {
    if (!(options.idleTtlSeconds > 0)) throw new Error('session idle TTL must be positive');
    const max = options.maxPerTenant ?? MAX_SESSIONS_PER_TENANT;
    if (!(Number.isInteger(max) && max > 0))
      throw new Error('sessions per tenant must be a positive integer');
    this.#redis = options.redis;
    this.#scripts = redisScripts(options.redis);
    this.#prefix = options.prefix;
    this.#ttl = options.idleTtlSeconds;
    this.#max = max;
  }

  async create(
    principal: Principal,
    tenant: SessionTenant,
    protocolVersion: string,
    asks: string[] = [],
  ): Promise<OpenedSession> {
    const id = randomBytes(32).toString('base64url');
    const record: SessionRecord = {
      issuer: principal.issuer,
      tenant: principal.tenant,
      user: principal.user,
      agent: principal.agent,
      tenantCreatedAt: tenant?.createdAt ?? null,
      protocolVersion,
      createdAt: new Date().toISOString(),
      binding: bindingOf(principal, tenant),
      asks,
    };
    const ended = await this.#scripts.sessionOpen(
      {
        session: mcpSessionKey(this.#prefix, id),
        tenantSessions: mcpTenantSessionsKey(this.#prefix, principal.tenant),
      },
      {
        record: JSON.stringify(record),
        ttlSeconds: this.#ttl,
        maxPerTenant: this.#max,
        indexTtlSeconds: Math.max(this.#ttl, TENANT_INDEX_TTL_SECONDS),
      },
    );
    return { id, ended };
  }

  /**
   * The live record, its idle timer restarted only when `principal` and `tenant` (the record the
   * request read) are the ones it is bound to; undefined when unknown, expired or terminated.
   */
  async touch(id: string, principal: Principal, tenant: SessionTenant): Promise<TouchedSession | undefined> {
    if (!SESSION_ID_PATTERN.test(id)) return undefined;
    const [raw, bound] = await this.#scripts.sessionTouch(
      {
        session: mcpSessionKey(this.#prefix, id),
        tenantSessions: mcpTenantSessionsKey(this.#prefix, principal.tenant),
      },
      { binding: bindingOf(principal, tenant), ttlSeconds: this.#ttl },
    );
    if (typeof raw !== 'string') return undefined;
    return { record: JSON.parse(raw) as SessionRecord, bound: bound === 1 };
  }

  /** Records the client's logging/setLevel on the session (its idle timer kept as it is). */
  async setLogLevel(id: string, level: string): Promise<void> {
    const key = mcpSessionKey(this.#prefix, id);
    const raw = await this.#redis.get(key);
    if (raw === null) return;
    const record = { ...(JSON.parse(raw) as SessionRecord), logLevel: level };
    await this.#redis.set(key, JSON.stringify(record), 'KEEPTTL', 'XX');
  }

  /** Ends the session of `tenant` (its record's), and takes it out of the tenant's count. */
  async terminate(id: string, tenant: string): Promise<boolean> {
    if (!SESSION_ID_PATTERN.test(id)) return false;
    const key = mcpSessionKey(this.#prefix, id);
    const [[, deleted]] = (await this.#redis
      .multi()
      .del(key)
      .zrem(mcpTenantSessionsKey(this.#prefix, tenant), key)
      .exec()) as [[Error | null, number]];
    return deleted === 1;
  }
}
