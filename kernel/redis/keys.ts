// Every Redis key name Bulkhead uses, in one place. `prefix` is the installation's key prefix
// (`installationPrefix(namespace)`, carried as `Installation.registryPrefix`); each function below
// adds the rest. The strings are a storage format: a change here orphans data already in Redis
// and breaks the tests that build keys literally, so change them only together with a migration.

/** The prefix of every key of one installation (and test run): `bulkhead:<namespace>`. */
export function installationPrefix(namespace: string): string {
  return `bulkhead:${namespace}`;
}

/** BullMQ's key prefix for the runtime jobs (BullMQ adds `:<queue>:...` itself). */
export function jobsPrefix(namespace: string): string {
  return `${installationPrefix(namespace)}:jobs`;
}

// The tenant registry (kernel/registry/tenant-registry.ts).

/** String: one tenant's record (JSON). */
export function tenantKey(prefix: string, id: string): string {
  return `${prefix}:tenant:${id}`;
}

/** Set: the ids of every tenant. */
export function tenantSetKey(prefix: string): string {
  return `${prefix}:tenants`;
}

/**
 * Sorted set, every score 0: the same ids in id order, which the registry's scripts keep with the set
 * (kernel/registry/tenant-id-page.ts reads a page of it without reading the whole).
 */
export function tenantOrderKey(prefix: string): string {
  return `${prefix}:tenants-by-id`;
}

/** Stream: the registry's change log. */
export function tenantChangesKey(prefix: string): string {
  return `${prefix}:tenant-changes`;
}

/** Counter: the last tenant UID handed out (an offset from the first tenant UID). */
export function uidSequenceKey(prefix: string): string {
  return `${prefix}:uid-seq`;
}

// The pack registry (kernel/registry/pack-registry.ts).

/** String: the approval in force for one pack version (JSON). */
export function packApprovalKey(prefix: string, name: string, version: string): string {
  return `${prefix}:pack:${name}@${version}`;
}

/** Set: every approved `name@version`. */
export function packSetKey(prefix: string): string {
  return `${prefix}:packs`;
}

/** Stream: every approval ever made (who, when, what), oldest first. */
export function packApprovalsLogKey(prefix: string): string {
  return `${prefix}:pack-approvals`;
}

// The audit trail (kernel/audit/audit-trail.ts).

/** Stream: one tenant's hash-chained audit entries. */
export function auditStreamKey(prefix: string, tenant: string): string {
  return `${prefix}:audit:${tenant}`;
}

/** String: "<seq>:<hash>" of the newest audit entry, moved only together with an append. */
export function auditHeadKey(prefix: string, tenant: string): string {
  return `${auditStreamKey(prefix, tenant)}:head`;
}

/**
 * Stream: what an earlier tenant of the id left of its trail in Redis, set aside (`at`: when, in
 * ms) as the id was registered again (kernel/redis/lua/audit-set-aside.lua); `:head` its head.
 */
export function auditAsideKey(prefix: string, tenant: string, at: number): string {
  return `${prefix}:audit-aside:${tenant}:${at}`;
}

// Isolation evidence (tenants/control-plane/evidence.ts).

/** String: the latest `verify` report of one tenant (JSON), whoever ran it. */
export function evidenceKey(prefix: string, tenant: string): string {
  return `${prefix}:evidence:${tenant}`;
}

/** Hash: one tenant's sealed secret values, a field per secret name (kernel/secrets/secret-store.ts). */
export function secretsKey(prefix: string, tenant: string): string {
  return `${prefix}:secrets:${tenant}`;
}

/**
 * What names an idempotent write's records: the tenant and its record's `createdAt` (a tenant
 * onboarded again under the id has records of its own), the tool, and `keyHash`, the digest of the
 * client's key.
 */
export interface IdempotencyPlace {
  tenant: string;
  tenantCreatedAt: string;
  tool: string;
  keyHash: string;
}

/** String: one idempotent write's claim or result (the creation time in milliseconds since the epoch). */
export function idempotencyKey(prefix: string, scope: IdempotencyPlace): string {
  const created = Date.parse(scope.tenantCreatedAt);
  return `${prefix}:idem:${scope.tenant}:${created}:${scope.tool}:${scope.keyHash}`;
}

/** String (a counter): failed attempts of one idempotent write, kept for the key's window. */
export function idempotencyFailuresKey(prefix: string, scope: IdempotencyPlace): string {
  return `${idempotencyKey(prefix, scope)}:failures`;
}

/**
 * Sorted set: the results of idempotent writes one tenant (its id and record's `createdAt`) keeps
 * for replays, as `<bytes>:<n>` scored by when each expires (router/pipeline/result-keeping.ts).
 */
export function idempotencyKeptKey(
  prefix: string,
  scope: Omit<IdempotencyPlace, 'tool' | 'keyHash'>,
): string {
  return `${prefix}:idem-kept:${scope.tenant}:${Date.parse(scope.tenantCreatedAt)}`;
}

/** Hash: the sum of those results' bytes (`bytes`), their count (`n`) and `refusing` while over. */
export function idempotencyKeptTotalsKey(
  prefix: string,
  scope: Omit<IdempotencyPlace, 'tool' | 'keyHash'>,
): string {
  return `${idempotencyKeptKey(prefix, scope)}:totals`;
}

/** String with a sliding TTL: one 2025-11-25 MCP session's record. */
export function mcpSessionKey(prefix: string, sessionId: string): string {
  return `${prefix}:mcp-session:${sessionId}`;
}

/** Sorted set: the keys of one tenant's 2025-11-25 sessions, by last use (router/mcp/sessions.ts). */
export function mcpTenantSessionsKey(prefix: string, tenant: string): string {
  return `${prefix}:mcp-sessions:${tenant}`;
}

// Rug-pull protection shared by the routers (router/tools/shared-withheld.ts).

/**
 * Hash: the tenant tools each router's drift checks withhold, a field per tenant, tool and router
 * ("<tenant>\n<tool>\n<router id>"), the value the reason, digests and when it was last found.
 */
export function withheldToolsKey(prefix: string): string {
  return `${prefix}:withheld-tools`;
}

// Runtime state shared by the supervisor and the routers (supervisor/client/runtime-epochs.ts).

/** Counter: a tenant runtime's epoch, bumped before the supervisor pauses, stops or replaces it. */
export function epochKey(prefix: string, tenantId: string): string {
  return `${prefix}:runtime:epoch:${tenantId}`;
}

/** Sorted set: each tenant's last call time (ms since the epoch), read by the idle tiers. */
export function activityKey(prefix: string): string {
  return `${prefix}:runtime:activity`;
}

/**
 * Hash: the health pass's replacements that failed (did not come up, or failed within their
 * probation window), a field per tenant: the spec hash it failed on
 * (supervisor/lifecycle/rollout-ledger.ts).
 */
export function rolloutFailuresKey(prefix: string): string {
  return `${prefix}:runtime:rollout-failures`;
}

/** Hash: the replacements a rollout watches for their probation window, a field per tenant (JSON). */
export function rolloutProbationKey(prefix: string): string {
  return `${prefix}:runtime:rollout-probation`;
}

/**
 * String with a TTL: a tenant's crash circuit, its failures and backoff (JSON,
 * supervisor/lifecycle/circuit-store.ts), for the tenant's id and its record's creation time in
 * milliseconds since the epoch (a tenant onboarded again under the id starts with none).
 */
export function crashCircuitKey(prefix: string, place: { tenant: string; tenantCreatedAt: string }): string {
  return `${prefix}:runtime:circuit:${place.tenant}:${Date.parse(place.tenantCreatedAt)}`;
}

/** Hash: the supervisor's runtime metrics snapshot, a field per tenant (JSON). */
export function metricsKey(prefix: string): string {
  return `${prefix}:metrics:runtimes`;
}

// Security event counters. Two shapes for one kind of thing, kept because they are stored data and
// read by name: read-bound breaches count under `security:`, socket tampering under `metrics:`
// (next to the metrics snapshot, which the supervisor exports with it).

/** Hash: read-bound breaches, a field per `<tenant>:<kind>` (router/dispatch/security-events.ts). */
export function securityCountersKey(prefix: string): string {
  return `${prefix}:security:read-bounds`;
}

/** Hash: idempotency records that did not open in Redis (router/pipeline/record-tampering.ts), per tenant. */
export function unreadableRecordsKey(prefix: string): string {
  return `${prefix}:security:idempotency-records`;
}

/** Hash: tampered runtime sockets found, a field per tenant (supervisor/client/socket-tamper.ts). */
export function socketTamperKey(prefix: string): string {
  return `${prefix}:metrics:socket-tampering`;
}

// Rate limits (kernel/ratelimit/rate-limiter.ts, kernel/redis/lua/rate-limit.lua).

/**
 * Whose budgets a tenant's rate-limit keys hold: the tenant's id and its record's `createdAt` (a
 * tenant onboarded again under the id spends budgets of its own, not what the earlier one left);
 * null for a caller without a record.
 */
export interface RateTenantPlace {
  tenant: string;
  tenantCreatedAt: string | null;
}

/**
 * String with a TTL: one rate-limit layer's theoretical arrival time (GCRA), for a tenant (its id
 * and its record's creation time in milliseconds since the epoch, or `none`) and a layer:
 * `tenant:minute`, `tenant:day`, `agent:<agent>`, `user:<user>` or `tool:<tool>` (the identifiers
 * come from verified claims and the tool manifest, never from the request's address).
 */
export function rateLimitKey(prefix: string, place: RateTenantPlace, layer: string): string {
  return rateLimitKeys(prefix, place)(layer);
}

/** rateLimitKey of each layer for one tenant, its creation time read once (a call takes several). */
export function rateLimitKeys(prefix: string, place: RateTenantPlace): (layer: string) => string {
  const created = place.tenantCreatedAt === null ? 'none' : Date.parse(place.tenantCreatedAt);
  const head = `${prefix}:rate:${place.tenant}:${created}`;
  return (layer) => `${head}:${layer}`;
}

/**
 * SCAN pattern of a tenant's rate-limit keys of one kind (`agent`, `user`, `tool`): the callers and
 * tools that spent some of a budget not yet replenished (`bulkhead quota`).
 */
export function rateLimitPattern(prefix: string, place: RateTenantPlace, kind: string): string {
  return `${rateLimitKey(prefix, place, kind)}:*`;
}

/**
 * String with a TTL: an upstream's theoretical arrival time (GCRA), shared by every tenant whose
 * calls use that downstream API (outside any tenant's keys: the budget is the downstream's).
 */
export function upstreamRateKey(prefix: string, upstream: string): string {
  return `${prefix}:rate-upstream:${upstream}`;
}

/** Hash: upstream name -> its budget in calls per minute (kernel/ratelimit/upstream-budgets.ts). */
export function upstreamBudgetsKey(prefix: string): string {
  return `${prefix}:upstream-budgets`;
}

// The console (console/refused-actions.ts, console/auth/pending-sign-in.ts, console/auth/sessions.ts).

/**
 * String with a TTL of one interval: an actor's refused action on a tenant is on record
 * (`digest`: SHA-256 of the actor, tenant and action), shared by every console process.
 */
export function refusedActionKey(prefix: string, digest: string): string {
  return `${prefix}:console:refused:${digest}`;
}

/**
 * String (32 random bytes, base64url): the Redis half of the key every console process of the
 * installation seals sign-ins in progress with (console/auth/pending-sign-in.ts); the other half is
 * the console's client secret, which Redis never holds.
 */
export function signInSeedKey(prefix: string): string {
  return `${prefix}:console:sign-in-seed`;
}

/**
 * String (JSON) with the session's lifetime as its TTL: a signed-in console session, shared by every
 * console process (`digest`: SHA-256 of the id its cookie carries, which Redis never holds).
 */
export function consoleSessionKey(prefix: string, digest: string): string {
  return `${prefix}:console:session:${digest}`;
}

/** Sorted set: the digests of the open console sessions by opening time, to drop the oldest. */
export function consoleSessionsKey(prefix: string): string {
  return `${prefix}:console:sessions`;
}

/**
 * Sorted set: the digests of one person's console sessions by opening time (`person`: SHA-256 of
 * their `sub`), to bound each person's share of the sessions.
 */
export function consolePersonSessionsKey(prefix: string, person: string): string {
  return `${prefix}:console:sessions-of:${person}`;
}
