// The tenant registry, the source of truth for who is a tenant. Stored in Redis (append-only
// persistence in deployment) so routers, the supervisor and the CLI share one view.
import type { Redis } from 'ioredis';
import {
  TenantIdSchema,
  TenantRecordSchema,
  type IsolationTier,
  type Plan,
  type TenantRecord,
} from '../contracts/tenant-spec.ts';
import { RECORDS_TOOLS, SHARED_TOOLS } from '../contracts/tool-manifest.ts';

/** Tenant UIDs start high, far from any system or image account. */
const FIRST_TENANT_UID = 100_000;

export class TenantExistsError extends Error {
  readonly code = 'tenant_exists';
}
export class TenantNotFoundError extends Error {
  readonly code = 'tenant_not_found';
}

export interface NewTenant {
  id: string;
  displayName?: string;
  plan: Plan;
  isolation: IsolationTier;
  roles?: TenantRecord['roles'];
  tools?: TenantRecord['tools'];
  issuers?: TenantRecord['issuers'];
}

const MANIFEST = [...SHARED_TOOLS, ...RECORDS_TOOLS];

/**
 * Safe until the operator says otherwise: every manifest tool is enabled at its current version for
 * the tenant's users (their roles decide which), and an agent acting alone (a token with no human
 * user) gets only `whoami`, which echoes its own verified identity and touches no tenant data.
 * Opening tenant tools to agents alone is an explicit choice (`agentsAlone: true`, or
 * `openToAgentsAlone` below).
 */
export function defaultTools(): TenantRecord['tools'] {
  return MANIFEST.map((tool) => ({
    name: tool.name,
    version: tool.version,
    agentsAlone: tool.name === 'whoami',
  }));
}

/** admin: everything; editor: everything but deleting; viewer: read-only tools. */
export function defaultRoles(): TenantRecord['roles'] {
  return {
    admin: MANIFEST.map((t) => t.name),
    editor: MANIFEST.filter((t) => !t.name.endsWith('_delete')).map((t) => t.name),
    viewer: MANIFEST.filter((t) => !t.writes).map((t) => t.name),
  };
}

/** The default tools, with the named ones (or all, for `'all'`) opened to agents acting alone. */
export function openToAgentsAlone(names: readonly string[] | 'all'): TenantRecord['tools'] {
  return defaultTools().map((pin) => ({
    ...pin,
    agentsAlone: pin.agentsAlone || names === 'all' || names.includes(pin.name),
  }));
}

export class TenantRegistry {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.prefix = options.prefix;
  }

  private key(id: string): string {
    return `${this.prefix}:tenant:${id}`;
  }

  async create(input: NewTenant): Promise<TenantRecord> {
    const id = TenantIdSchema.parse(input.id);
    if (await this.redis.exists(this.key(id))) throw new TenantExistsError(`tenant "${id}" already exists`);
    const uid = FIRST_TENANT_UID + (await this.redis.incr(`${this.prefix}:uid-seq`));
    const record = TenantRecordSchema.parse({
      id,
      displayName: input.displayName ?? id,
      uid,
      plan: input.plan,
      isolation: input.isolation,
      status: 'active',
      issuers: input.issuers ?? [],
      roles: input.roles ?? defaultRoles(),
      tools: input.tools ?? defaultTools(),
      createdAt: new Date().toISOString(),
      generation: 1,
    });
    // SET NX closes the race between two concurrent creates of one id: exactly one wins.
    const written = await this.redis.set(this.key(id), JSON.stringify(record), 'NX');
    if (written !== 'OK') throw new TenantExistsError(`tenant "${id}" already exists`);
    await this.redis.sadd(`${this.prefix}:tenants`, id);
    return record;
  }

  async get(id: string): Promise<TenantRecord | undefined> {
    const raw = await this.redis.get(this.key(id));
    return raw ? TenantRecordSchema.parse(JSON.parse(raw)) : undefined;
  }

  async require(id: string): Promise<TenantRecord> {
    const record = await this.get(id);
    if (!record) throw new TenantNotFoundError(`no tenant "${id}"`);
    return record;
  }

  async list(): Promise<TenantRecord[]> {
    const ids = (await this.redis.smembers(`${this.prefix}:tenants`)).sort();
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is TenantRecord => r !== undefined);
  }

  async delete(id: string): Promise<boolean> {
    const removed = await this.redis.del(this.key(id));
    await this.redis.srem(`${this.prefix}:tenants`, id);
    return removed > 0;
  }
}
