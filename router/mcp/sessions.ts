// 2025-11-25 sessions (`Mcp-Session-Id`), shared by every router replica through Redis.
//
// Why Redis state and not a sealed (signed) session id: a session must end for good on DELETE (404
// afterwards) and on idle expiry, on every replica at once. A sealed id still needs a revocation
// lookup in Redis on every request, so it saves no round trip, and it adds a sealing key that every
// replica must share and rotate. An opaque 256-bit random id with its record in Redis gives the same
// one-GET-per-request cost, instant termination (DEL), sliding idle expiry (the key's TTL) and
// nothing for a client to decode. No replica keeps session state in memory, so no sticky routing.
//
// A session is bound to the principal that created it: issuer, tenant, user and agent. Scopes are not
// part of the binding (a step-up token for the same user and agent continues the session); they are
// re-checked on every request anyway, because each request builds its server from its own token.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { mcpSessionKey } from '../../kernel/redis/keys.ts';
import type { Principal } from '../identity/principal.ts';

export interface SessionRecord {
  issuer: string;
  tenant: string;
  user: string | null;
  agent: string;
  protocolVersion: string;
  createdAt: string;
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

export function sameBinding(record: SessionRecord, principal: Principal): boolean {
  return (
    record.issuer === principal.issuer &&
    record.tenant === principal.tenant &&
    record.user === principal.user &&
    record.agent === principal.agent
  );
}

export class SessionStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttl: number;

  constructor(options: SessionStoreOptions) {
    if (!(options.idleTtlSeconds > 0)) throw new Error('session idle TTL must be positive');
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#ttl = options.idleTtlSeconds;
  }

  async create(principal: Principal, protocolVersion: string): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const record: SessionRecord = {
      issuer: principal.issuer,
      tenant: principal.tenant,
      user: principal.user,
      agent: principal.agent,
      protocolVersion,
      createdAt: new Date().toISOString(),
    };
    await this.#redis.set(mcpSessionKey(this.#prefix, id), JSON.stringify(record), 'EX', this.#ttl, 'NX');
    return id;
  }

  /** The live record, its idle timer restarted; undefined when unknown, expired or terminated. */
  async touch(id: string): Promise<SessionRecord | undefined> {
    if (!SESSION_ID_PATTERN.test(id)) return undefined;
    const raw = await this.#redis.getex(mcpSessionKey(this.#prefix, id), 'EX', this.#ttl);
    return raw === null ? undefined : (JSON.parse(raw) as SessionRecord);
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
