// The job contract between runtime producers (router, CLI) and the supervisor's worker.
import { z } from 'zod';
import { RuntimeEndpointSchema } from '../../kernel/wire/runtime-endpoint.ts';
import { IsolationReportSchema } from './isolation-report.ts';

export const RUNTIME_QUEUE = 'runtime';

export const EnsureJob = z.strictObject({ tenantId: z.string() });
export const RemoveJob = z.strictObject({ tenantId: z.string(), purgeData: z.boolean() });
export const InspectJob = z.strictObject({ tenantId: z.string() });
export const VerifyJob = z.strictObject({ tenantId: z.string() });
/**
 * Replace a tenant's container for a security event (`reason` says which). Several reports of one
 * event recycle once: with `runtimeId`, only if that container still serves the tenant; with
 * `requestedAtMs`, only if the container serving it was created before the request.
 */
export const RecycleJob = z.strictObject({
  tenantId: z.string(),
  reason: z.string().min(1).max(200),
  runtimeId: z.string().optional(),
  requestedAtMs: z.number().optional(),
});
export type RecycleJob = z.infer<typeof RecycleJob>;
export const VerifyResult = z.strictObject({ report: IsolationReportSchema });

export const EnsureResult = z.strictObject({
  endpoint: RuntimeEndpointSchema,
  /** The tenant's runtime epoch when the runtime was handed out (see runtime-epochs.ts). */
  epoch: z.number().int().min(0).optional(),
  /** The container (or pod) that serves it: a wake keeps it, a recycle or crash replaces it. */
  runtimeId: z.string().optional(),
});
export type EnsureResult = z.infer<typeof EnsureResult>;
export const RuntimeStatusSchema = z.strictObject({
  tenantId: z.string(),
  runtimeId: z.string(),
  state: z.string(),
  specHash: z.string(),
  generation: z.number(),
  image: z.string(),
});
export type RuntimeStatus = z.infer<typeof RuntimeStatusSchema>;
export const InspectResult = z.strictObject({ status: RuntimeStatusSchema.nullable() });

/** Failure codes a worker puts at the start of a job's failure reason ("code: message"). */
export const RUNTIME_ERROR_CODES = [
  'tenant_not_found',
  'tenant_suspended',
  'runtime_failed',
  // The tenant's runtime is crash-looping and its circuit is open: "runtime_backoff: <ms>: message".
  'runtime_backoff',
] as const;
export type RuntimeErrorCode = (typeof RUNTIME_ERROR_CODES)[number];
