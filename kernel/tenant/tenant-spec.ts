// The tenant record: the contract the router, the supervisor and the CLI share.
import { z } from 'zod';
import { PackNameSchema, PackVersionSchema } from '../packs/pack-manifest.ts';
import { EgressPolicySchema } from './egress-policy.ts';

/** How long a tenant's audit trail is kept unless its record says otherwise (`retention.auditDays`). */
export const DEFAULT_AUDIT_DAYS = 365;

/**
 * The longest retention a tenant's record may give its audit trail, and an offboarding marker carry
 * on after it (offboard-marker.ts): ten years, well inside what a cutoff date can be.
 */
export const MAX_AUDIT_DAYS = 3650;

/** Lower-case DNS-label-like ids: safe in container names, volume names, paths and Redis keys. */
export const TENANT_ID_PATTERN = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;

export const TenantIdSchema = z
  .string()
  .regex(
    TENANT_ID_PATTERN,
    'tenant id must be 3-32 characters of a-z, 0-9 and "-", starting with a letter and not ending with "-"',
  );
export type TenantId = z.infer<typeof TenantIdSchema>;

/**
 * The suffix of a tenant's volume-init helper's container name (`bulkhead-<namespace>-<tenant>`
 * followed by it, supervisor/docker/container-spec.ts): a tenant id ending in it would name its
 * runtime as another tenant's helper, so no tenant is registered with one (TenantRegistry.create).
 */
export const VOLUME_INIT_SUFFIX = '-volinit';

export const IsolationTierSchema = z.enum(['runc', 'gvisor']);
export type IsolationTier = z.infer<typeof IsolationTierSchema>;

export const PlanSchema = z.strictObject({
  name: z.string().min(1).max(32),
  memoryMb: z.number().int().min(32).max(8192),
  cpus: z.number().min(0.05).max(8),
  pids: z.number().int().min(16).max(4096),
  tmpMb: z.number().int().min(1).max(1024),
  /**
   * The size of the tenant's disk, the filesystem its data lives on (supervisor/docker/tenant-disk.ts);
   * absent in plans written before it existed, which get DEFAULT_DISK_MB there.
   */
  diskMb: z.number().int().min(16).max(65_536).optional(),
});
export type Plan = z.infer<typeof PlanSchema>;

// small holds two Node processes, the runtime and the records pack (docs/pack-runtime.md, "The
// reference pack"): at 128 MiB the cgroup's OOM killer ended the runtime while it relayed a full
// page of large records (about 2 MB of answer; test/integration/hostile-answers.test.ts).
export const PLANS = {
  small: { name: 'small', memoryMb: 192, cpus: 0.5, pids: 64, tmpMb: 16, diskMb: 256 },
  standard: { name: 'standard', memoryMb: 256, cpus: 1, pids: 128, tmpMb: 32, diskMb: 1024 },
} as const satisfies Record<string, Plan>;
export type PlanName = keyof typeof PLANS;

const perMinute = z.number().int().min(1).max(1_000_000);

/** Call quotas per plan, enforced by the router's rate limiter (docs/rate-limits.md); a tenant's
 * record holds its own copy, so an operator can override any of them per tenant. Kept apart from
 * `Plan` because changing a quota must not recycle the tenant's container (the plan is part of its
 * spec hash). The agent and user budgets are each a share of the tenant's, so that one looping
 * agent cannot spend it all; absent (records written before they existed), the router takes half
 * of `callsPerMinute`. `tools` overrides a tool's own limit from the manifest. */
export const QuotasSchema = z.strictObject({
  callsPerMinute: perMinute,
  callsPerDay: z.number().int().min(1).max(1_000_000_000),
  agentCallsPerMinute: perMinute.optional(),
  userCallsPerMinute: perMinute.optional(),
  tools: z.record(z.string().min(1).max(64), perMinute).optional(),
});
export type Quotas = z.infer<typeof QuotasSchema>;

export const PLAN_QUOTAS = {
  small: { callsPerMinute: 60, callsPerDay: 10_000, agentCallsPerMinute: 30, userCallsPerMinute: 30 },
  standard: {
    callsPerMinute: 600,
    callsPerDay: 100_000,
    agentCallsPerMinute: 200,
    userCallsPerMinute: 300,
  },
} as const satisfies Record<PlanName, Quotas>;

export function planByName(name: string): Plan {
  const plan = (PLANS as Record<string, Plan>)[name];
  if (!plan) throw new Error(`unknown plan "${name}": choose one of ${Object.keys(PLANS).join(', ')}`);
  return plan;
}

/** A trusted token issuer and how its claims map onto this tenant (a token of this issuer may speak only for the tenants that list it). */
export const IssuerBindingSchema = z.strictObject({
  issuer: z.url(),
  /** Defaults to the issuer's `/jwks` when omitted. */
  jwksUri: z.url().optional(),
  tenantClaim: z.string().min(1).default('tenant'),
  rolesClaim: z.string().min(1).default('roles'),
});
export type IssuerBinding = z.infer<typeof IssuerBindingSchema>;

/** An enabled tool, pinned to a version; `agentsAlone` opens it to tokens with no human user. */
export const ToolPinSchema = z.strictObject({
  name: z.string().min(1).max(64),
  version: z.string().min(1).max(32),
  agentsAlone: z.boolean().default(false),
});
export type ToolPin = z.infer<typeof ToolPinSchema>;

/**
 * An enabled tool pack, pinned to an approved version (docs/packs.md). Its tools are served under
 * their exposed names to the roles that list them; `agentsAlone` opens them to tokens with no user.
 */
export const TenantPackPinSchema = z.strictObject({
  name: PackNameSchema,
  version: PackVersionSchema,
  agentsAlone: z.boolean().default(false),
});
export type TenantPackPin = z.infer<typeof TenantPackPinSchema>;

/** A reference to a secret held elsewhere (never the secret itself). */
export const SecretRefSchema = z.strictObject({
  name: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  /** A URI into a secret store (`secret://tenant/NAME`, `vault://path#key`), never a value. */
  ref: z
    .string()
    .max(256)
    .regex(
      /^[a-z][a-z0-9+.-]*:\/\/\S+$/,
      'a secret reference is a URI such as secret://tenant/NAME, never the value',
    ),
});

export const TenantRecordSchema = z.strictObject({
  id: TenantIdSchema,
  displayName: z.string().min(1).max(100),
  /** Non-root UID (and GID) the tenant's container runs as; unique per tenant. */
  uid: z.number().int().min(100_000).max(2_000_000_000),
  plan: PlanSchema,
  quotas: QuotasSchema.default(PLAN_QUOTAS.small),
  isolation: IsolationTierSchema,
  status: z.enum(['active', 'suspended']),
  /** Issuers trusted for this tenant; empty means the installation's default issuer. */
  issuers: z.array(IssuerBindingSchema).default([]),
  /** User role -> tools that role may call. A user's tools are the union over their roles. */
  roles: z.record(z.string().min(1).max(64), z.array(z.string())).default({}),
  /** Enabled tools with pinned versions. */
  tools: z.array(ToolPinSchema).default([]),
  /** Enabled tool packs with pinned versions; a change recycles the runtime onto a new image. */
  packs: z.array(TenantPackPinSchema).default([]),
  /** What the container may reach through the egress gateway (kernel/tenant/egress-policy.ts). */
  egress: EgressPolicySchema.default({ mode: 'none' }),
  secrets: z.array(SecretRefSchema).default([]),
  /** How long the audit trail outlives the tenant, and whether offboarding exports it first. */
  retention: z
    .strictObject({
      auditDays: z.number().int().min(1).max(MAX_AUDIT_DAYS),
      exportAuditOnOffboard: z.boolean().default(true),
    })
    .default({ auditDays: DEFAULT_AUDIT_DAYS, exportAuditOnOffboard: true }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime().optional(),
  generation: z.number().int().min(1),
});
export type TenantRecord = z.infer<typeof TenantRecordSchema>;

/**
 * Whether `a` is an earlier record of the tenant than `b`: an earlier incarnation (the same id
 * onboarded again after an offboarding starts again at generation 1, created later), or an earlier
 * generation of the same one. Records read at different moments (a request's, the registry's now)
 * are ordered so.
 */
export function isEarlierRecord(
  a: Pick<TenantRecord, 'createdAt' | 'generation'>,
  b: Pick<TenantRecord, 'createdAt' | 'generation'>,
): boolean {
  const created = Date.parse(a.createdAt) - Date.parse(b.createdAt);
  return created !== 0 ? created < 0 : a.generation < b.generation;
}
