// The tenant registry, the source of truth for who is a tenant. Stored in Redis (append-only
// persistence in deployment) so routers, the supervisor and the CLI share one view.
import type { Redis } from 'ioredis';
import {
  TenantIdSchema,
  TenantRecordSchema,
  VOLUME_INIT_SUFFIX,
  type IsolationTier,
  type Plan,
  type TenantRecord,
} from '../tenant/tenant-spec.ts';
import { RECORDS_TOOLS, SHARED_TOOLS } from '../packs/manifest.ts';
import { assertAgainstManifest } from '../tenant/tenant-config.ts';
import { diffValues, type FieldChange } from './config-diff.ts';
import { redisScripts, type RedisScripts } from '../redis/scripts.ts';
import {
  secretsKey,
  tenantChangesKey,
  tenantKey,
  tenantOrderKey,
  tenantSetKey,
  uidSequenceKey,
} from '../redis/keys.ts';
import { BulkheadError } from '../errors/bulkhead-error.ts';

/** Freezes `value` and everything in it: a record shared by every reader cannot be changed by one. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Tenant UIDs start high, far from any system or image account. */
const FIRST_TENANT_UID = 100_000;

export class TenantExistsError extends BulkheadError<'tenant_exists'> {
  constructor(message: string) {
    super('tenant_exists', message);
  }
}
export class TenantNotFoundError extends BulkheadError<'tenant_not_found'> {
  constructor(message: string) {
    super('tenant_not_found', message);
  }
}
/** Another change landed first: re-read the tenant and decide again. */
export class TenantConflictError extends BulkheadError<'generation_conflict'> {
  constructor(message: string) {
    super('generation_conflict', message);
  }
}

/** Who made a change, for the change log (an operator name, `apply:<file>`, `onboard`, ...). */
export interface ChangeAuthor {
  actor: string;
  reason?: string;
}

export interface ChangeLogEntry {
  id: string;
  tenant: string;
  action: 'create' | 'update' | 'delete';
  generation: number;
  actor: string;
  reason: string;
  at: string;
  changes: FieldChange[];
}

/** The fields an update may change; the registry owns id, uid, createdAt and generation. */
export type TenantChanges = Partial<
  Omit<TenantRecord, 'id' | 'uid' | 'createdAt' | 'updatedAt' | 'generation'>
>;

export interface NewTenant {
  id: string;
  displayName?: string;
  plan: Plan;
  isolation: IsolationTier;
  roles?: TenantRecord['roles'];
  tools?: TenantRecord['tools'];
  packs?: TenantRecord['packs'];
  issuers?: TenantRecord['issuers'];
  quotas?: TenantRecord['quotas'];
  status?: TenantRecord['status'];
  egress?: TenantRecord['egress'];
  secrets?: TenantRecord['secrets'];
  retention?: TenantRecord['retention'];
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

// Writes go through Lua scripts (kernel/redis/lua/registry-create.lua, registry-update.lua and
// registry-delete.lua): the record, the tenant set and the change-log entry change together or not
// at all, and an update applies only on top of the generation it was made from (optimistic
// concurrency: a concurrent writer gets a conflict, never a silent overwrite).
export class TenantRegistry {
  private readonly redis: Redis;
  private readonly scripts: RedisScripts;
  private readonly prefix: string;
  /** Per tenant, the record last read and the stored text it was parsed from (get). */
  private readonly parsed = new Map<string, { text: string; record: TenantRecord }>();

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.scripts = redisScripts(options.redis);
    this.prefix = options.prefix;
  }

  private key(id: string): string {
    return tenantKey(this.prefix, id);
  }

  private get changeLogKey(): string {
    return tenantChangesKey(this.prefix);
  }

  private logFields(entry: Omit<ChangeLogEntry, 'id'>): string {
    const fields: Record<string, string> = {
      tenant: entry.tenant,
      action: entry.action,
      generation: String(entry.generation),
      actor: entry.actor,
      reason: entry.reason,
      at: entry.at,
      changes: JSON.stringify(entry.changes),
    };
    return JSON.stringify(Object.entries(fields).flat());
  }

  async create(input: NewTenant, author: ChangeAuthor = { actor: 'unknown' }): Promise<TenantRecord> {
    const id = TenantIdSchema.parse(input.id);
    if (id.endsWith(VOLUME_INIT_SUFFIX))
      throw new BulkheadError(
        'invalid_input',
        `tenant id "${id}" ends in "${VOLUME_INIT_SUFFIX}": the runtime of such a tenant would take the name of tenant "${id.slice(0, -VOLUME_INIT_SUFFIX.length)}"'s volume-init helper`,
      );
    if (await this.redis.exists(this.key(id))) throw new TenantExistsError(`tenant "${id}" already exists`);
    const record = TenantRecordSchema.parse({
      id,
      displayName: input.displayName ?? id,
      uid: FIRST_TENANT_UID, // placeholder: the real UID is taken only once the record is valid
      plan: input.plan,
      ...(input.quotas ? { quotas: input.quotas } : {}),
      isolation: input.isolation,
      status: input.status ?? 'active',
      issuers: input.issuers ?? [],
      roles: input.roles ?? defaultRoles(),
      tools: input.tools ?? defaultTools(),
      ...(input.packs ? { packs: input.packs } : {}),
      ...(input.egress ? { egress: input.egress } : {}),
      ...(input.secrets ? { secrets: input.secrets } : {}),
      ...(input.retention ? { retention: input.retention } : {}),
      createdAt: new Date().toISOString(),
      generation: 1,
    });
    assertAgainstManifest(record);
    // Validated before a UID is spent: bad input changes nothing.
    record.uid = FIRST_TENANT_UID + (await this.redis.incr(uidSequenceKey(this.prefix)));
    // One script: record, tenant set and change log together; exactly one of two concurrent creates wins.
    const written = await this.scripts.registryCreate(
      {
        record: this.key(id),
        tenants: tenantSetKey(this.prefix),
        changes: this.changeLogKey,
        order: tenantOrderKey(this.prefix),
      },
      {
        id,
        record: JSON.stringify(record),
        log: this.logFields({
          tenant: id,
          action: 'create',
          generation: 1,
          actor: author.actor,
          reason: author.reason ?? '',
          at: record.createdAt,
          changes: diffValues({}, record),
        }),
      },
    );
    if (written !== 1) throw new TenantExistsError(`tenant "${id}" already exists`);
    return record;
  }

  /**
   * Applies `changes` on top of generation `expectedGeneration` (the one the caller read) and
   * returns the new record (generation + 1). A concurrent change in between is a conflict, and so
   * is a record of another tenant under the same id (offboarded and onboarded again since the read:
   * its generation may be the same): the one with UID `expectedUid` (default: the one read here). With
   * `secret`, that sealed value (kernel/secrets/secret-store.ts, `seal`) is stored in the tenant's
   * secret hash by the same script, only if the record is written.
   */
  async update(
    id: string,
    options: {
      expectedGeneration: number;
      expectedUid?: number;
      changes: TenantChanges;
      author: ChangeAuthor;
      secret?: { name: string; sealed: string };
    },
  ): Promise<TenantRecord> {
    const current = await this.require(id);
    if (options.expectedUid !== undefined && current.uid !== options.expectedUid)
      throw new TenantConflictError(
        `tenant "${id}" is another tenant: uid ${current.uid}, expected ${options.expectedUid} (offboarded and onboarded again); re-read and retry`,
      );
    if (current.generation !== options.expectedGeneration)
      throw new TenantConflictError(
        `tenant "${id}" changed: generation ${current.generation}, expected ${options.expectedGeneration}; re-read and retry`,
      );
    const next = TenantRecordSchema.parse({
      ...current,
      ...options.changes,
      id: current.id,
      uid: current.uid,
      createdAt: current.createdAt,
      updatedAt: new Date().toISOString(),
      generation: current.generation + 1,
    });
    assertAgainstManifest(next);
    const { updatedAt: _a, generation: _b, ...before } = current;
    const { updatedAt: _c, generation: _d, ...after } = next;
    const written = await this.scripts.registryUpdate(
      { record: this.key(id), changes: this.changeLogKey, secrets: secretsKey(this.prefix, id) },
      {
        expectedGeneration: options.expectedGeneration,
        // The UID of the record `next` was made from: not written over another tenant's.
        expectedUid: current.uid,
        secretName: options.secret?.name ?? '',
        secretValue: options.secret?.sealed ?? '',
        record: JSON.stringify(next),
        log: this.logFields({
          tenant: id,
          action: 'update',
          generation: next.generation,
          actor: options.author.actor,
          reason: options.author.reason ?? '',
          at: next.updatedAt ?? '',
          changes: diffValues(before, after),
        }),
      },
    );
    if (written === 0) throw new TenantNotFoundError(`no tenant "${id}"`);
    if (written !== 1)
      throw new TenantConflictError(
        -written === options.expectedGeneration
          ? `tenant "${id}" was offboarded and onboarded again concurrently; re-read and retry`
          : `tenant "${id}" changed concurrently: generation ${-written}, expected ${options.expectedGeneration}; re-read and retry`,
      );
    return next;
  }

  /** The change log of one tenant (or of all when `id` is omitted), oldest first. */
  async history(id?: string): Promise<ChangeLogEntry[]> {
    const rows = await this.redis.xrange(this.changeLogKey, '-', '+');
    const entries = rows.map(([entryId, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      return {
        id: entryId,
        tenant: f.tenant ?? '',
        action: (f.action ?? 'update') as ChangeLogEntry['action'],
        generation: Number(f.generation ?? 0),
        actor: f.actor ?? '',
        reason: f.reason ?? '',
        at: f.at ?? '',
        changes: JSON.parse(f.changes ?? '[]') as FieldChange[],
      };
    });
    return id ? entries.filter((e) => e.tenant === id) : entries;
  }

  /**
   * The tenant's record as stored now. A stored text unchanged since the last read is the record
   * parsed from it then, frozen and shared by every caller: the router reads a tenant's record every
   * few seconds and the supervisor on every ensure, and the parse took 0.3 to 2 ms of a call after
   * a quiet spell (docs/performance-router.md, "The tenant record after a quiet spell").
   */
  async get(id: string): Promise<TenantRecord | undefined> {
    const text = await this.redis.get(this.key(id));
    if (!text) {
      this.parsed.delete(id);
      return undefined;
    }
    const last = this.parsed.get(id);
    if (last?.text === text) return last.record;
    const record = deepFreeze(TenantRecordSchema.parse(JSON.parse(text)));
    this.parsed.set(id, { text, record });
    return record;
  }

  async require(id: string): Promise<TenantRecord> {
    const record = await this.get(id);
    if (!record) throw new TenantNotFoundError(`no tenant "${id}"`);
    return record;
  }

  /** Every tenant's id, sorted: no record is read. */
  async ids(): Promise<string[]> {
    return (await this.redis.smembers(tenantSetKey(this.prefix))).sort();
  }

  async list(): Promise<TenantRecord[]> {
    const ids = await this.ids();
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is TenantRecord => r !== undefined);
  }

  /**
   * Deletes the tenant's record; with `expectedGeneration`, only that generation (a change made
   * since, such as a resume during an offboarding, is a conflict and keeps the record); with
   * `expectedUid`, only that tenant's (one onboarded again under the id since keeps its record).
   */
  async delete(
    id: string,
    author: ChangeAuthor = { actor: 'unknown' },
    options: { expectedGeneration?: number; expectedUid?: number } = {},
  ): Promise<boolean> {
    const current = await this.get(id);
    const removed = await this.scripts.registryDelete(
      {
        record: this.key(id),
        tenants: tenantSetKey(this.prefix),
        changes: this.changeLogKey,
        order: tenantOrderKey(this.prefix),
      },
      {
        id,
        expectedGeneration: options.expectedGeneration ?? '',
        expectedUid: options.expectedUid ?? '',
        log: this.logFields({
          tenant: id,
          action: 'delete',
          generation: (current?.generation ?? 0) + 1,
          actor: author.actor,
          reason: author.reason ?? '',
          at: new Date().toISOString(),
          changes: [],
        }),
      },
    );
    if (removed < 0)
      throw new TenantConflictError(
        `tenant "${id}" changed: generation ${-removed}, expected ${options.expectedGeneration ?? 'any'} of uid ${options.expectedUid ?? 'any'}; not deleted`,
      );
    return removed === 1;
  }
}
