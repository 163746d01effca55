// The tenant record: the contract the router, the supervisor and the CLI share.
import { z } from 'zod';

/** Lower-case DNS-label-like ids: safe in container names, volume names, paths and Redis keys. */
export const TenantIdSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/,
    'tenant id must be 3-32 characters of a-z, 0-9 and "-", starting with a letter and not ending with "-"',
  );
export type TenantId = z.infer<typeof TenantIdSchema>;

export const IsolationTierSchema = z.enum(['runc', 'gvisor']);
export type IsolationTier = z.infer<typeof IsolationTierSchema>;

export const PlanSchema = z.strictObject({
  name: z.string().min(1).max(32),
  memoryMb: z.number().int().min(32).max(8192),
  cpus: z.number().min(0.05).max(8),
  pids: z.number().int().min(16).max(4096),
  tmpMb: z.number().int().min(1).max(1024),
});
export type Plan = z.infer<typeof PlanSchema>;

export const PLANS = {
  small: { name: 'small', memoryMb: 128, cpus: 0.5, pids: 64, tmpMb: 16 },
  standard: { name: 'standard', memoryMb: 256, cpus: 1, pids: 128, tmpMb: 32 },
} as const satisfies Record<string, Plan>;
export type PlanName = keyof typeof PLANS;

export function planByName(name: string): Plan {
  const plan = (PLANS as Record<string, Plan>)[name];
  if (!plan) throw new Error(`unknown plan "${name}": choose one of ${Object.keys(PLANS).join(', ')}`);
  return plan;
}

export const TenantRecordSchema = z.strictObject({
  id: TenantIdSchema,
  displayName: z.string().min(1).max(100),
  /** Non-root UID (and GID) the tenant's container runs as; unique per tenant. */
  uid: z.number().int().min(100_000).max(2_000_000_000),
  plan: PlanSchema,
  isolation: IsolationTierSchema,
  status: z.enum(['active', 'suspended']),
  createdAt: z.iso.datetime(),
  generation: z.number().int().min(1),
});
export type TenantRecord = z.infer<typeof TenantRecordSchema>;
