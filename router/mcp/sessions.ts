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
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { mcpSessionKey } from '../../kernel/redis/keys.ts';
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
}

export interface SessionStoreOptions {
  redis: Redis;
  /** Key prefix, e.g. `bulkhead:<namespace>`; a session lives under `mcpSessionKey(prefix, id)`. */
  prefix: string;
  /** Idle lifetime: every request on the session restarts it. */
  idleTtlSeconds: number;
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
  readonly #scripts: RedisScripts;

  constructor(options: SessionStoreOptions) {
    if (!(options.idleTtlSeconds > 0)) throw new Error('session idle TTL must be positive');
    this.#redis = options.redis;
    this.#scripts = redisScripts(options.redis);
    this.#prefix = options.prefix;
    this.#ttl = options.idleTtlSeconds;
  }

  async create(principal: Principal, tenant: SessionTenant, protocolVersion: string): Promise<string> {
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
    };
    await this.#redis.set(mcpSessionKey(this.#prefix, id), JSON.stringify(record), 'EX', this.#ttl, 'NX');
    return id;
  }

  /**
   * The live record, its idle timer restarted only when `principal` and `tenant` (the record the
   * request read) are the ones it is bound to; undefined when unknown, expired or terminated.
   */
  async touch(id: string, principal: Principal, tenant: SessionTenant): Promise<TouchedSession | undefined> {
    if (!SESSION_ID_PATTERN.test(id)) return undefined;
    const [raw, bound] = await this.#scripts.sessionTouch(
      { session: mcpSessionKey(this.#prefix, id) },
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

  async terminate(id: string): Promise<boolean> {
    if (!SESSION_ID_PATTERN.test(id)) return false;
    return (await this.#redis.del(mcpSessionKey(this.#prefix, id))) === 1;
  }
}
