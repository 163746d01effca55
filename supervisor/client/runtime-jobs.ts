// The job contract between runtime producers (router, CLI) and the supervisor's worker.
import { z } from 'zod';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { ErrorCode } from '../../kernel/errors/error-codes.ts';
import { RuntimeEndpointSchema } from '../../kernel/wire/runtime-endpoint.ts';
import { TenantIdSchema } from '../../kernel/tenant/tenant-spec.ts';
import { IsolationReportSchema } from './isolation-report.ts';

export const RUNTIME_QUEUE = 'runtime';

/**
 * A job's tenant: a tenant id, checked again here, where the root supervisor takes it. Its paths
 * (the socket directory it empties and removes as root), names and keys are built from it, so an id
 * such as `..` from a producer that did not check would name the run directory itself.
 */
const JobTenant = TenantIdSchema;

export const EnsureJob = z.strictObject({
  tenantId: JobTenant,
  /** W3C trace context of the call that asked (kernel/telemetry/trace-context.ts): the job's spans continue it. */
  traceparent: z.string().max(128).optional(),
});
export const RemoveJob = z.strictObject({
  tenantId: JobTenant,
  purgeData: z.boolean(),
  /**
   * Until when (epoch ms, the asker's clock) its asker waits for it: a remove taken later, or that
   * gets the tenant's lock later (behind a bring-up), is refused, not run (`refuseUnwaited`). Its
   * asker was told it failed (an offboarding keeps the record and runs again), and a tenant resumed
   * or onboarded again under the id meanwhile must not lose its runtime or its data to it.
   */
  notAfterMs: z.number().optional(),
});

/**
 * Until when a remove's asker waits (RemoveJob `notAfterMs`), checked again under the tenant's
 * lock, and what must run `first` only once the remove is known to run (the audit trail's
 * offboarding, under that lock).
 */
export interface RemoveAsked {
  notAfterMs?: number | undefined;
  first?: (() => Promise<unknown>) | undefined;
}

/** Refuses (`runtime_failed`) a remove whose asker waits for it no longer (RemoveJob `notAfterMs`). */
export function refuseUnwaited(tenantId: string, notAfterMs: number | undefined): void {
  if (notAfterMs !== undefined && Date.now() > notAfterMs)
    throw new BulkheadError(
      'runtime_failed',
      `the remove of "${tenantId}" was asked for until ${notAfterMs}: not run`,
    );
}

/**
 * Under the tenant's lock, after what may take long and changes nothing the tenant keeps (an epoch
 * bump on a slow Redis, the engine's inspect) and right before the remove's first step that cannot
 * be undone (the audit trail's end, else the runtime's removal): refuses a remove no longer waited
 * for, else runs what comes `first`. What it lets start runs to its end, which may still come after
 * the asker's deadline: a removal half done cannot be taken back, and the asker was told it failed
 * (an offboarding keeps the record and runs again, finding nothing left; docs/lifecycle.md).
 */
export async function runIfWaited(tenantId: string, asked: RemoveAsked): Promise<void> {
  refuseUnwaited(tenantId, asked.notAfterMs);
  await asked.first?.();
}
export const InspectJob = z.strictObject({ tenantId: JobTenant });
export const VerifyJob = z.strictObject({ tenantId: JobTenant });
/** Ready what a tenant's first start needs, starting nothing: its image and its volume. */
export const PrepareJob = z.strictObject({ tenantId: JobTenant });
/**
 * Replace a tenant's container for a security event (`reason` says which). Several reports of one
 * event recycle once: with `runtimeId`, only if that container still serves the tenant; with
 * `requestedAtMs`, only if the container serving it was created before the request.
 */
export const RecycleJob = z.strictObject({
  tenantId: JobTenant,
  reason: z.string().min(1).max(200),
  runtimeId: z.string().optional(),
  requestedAtMs: z.number().optional(),
  /**
   * The runtime is broken (it broke a read bound, its socket was tampered with), not out of date: it
   * counts for the tenant's crash circuit, and with the circuit open it is removed, not replaced.
   */
  failed: z.boolean().optional(),
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

/**
 * The codes a worker may refuse a job with (error table: kernel/errors/error-codes.ts). A refusal is
 * an answer, not a failed job: the worker returns it as the job's value and the client raises it.
 */
export const JOB_FAILURE_CODES = [
  'tenant_not_found',
  'tenant_suspended',
  // The tenant's runtime is crash-looping and its circuit is open: retryAfterMs says until when.
  'runtime_backoff',
  'runtime_failed',
  'socket_tampered',
] as const satisfies readonly ErrorCode[];
export type JobFailureCode = (typeof JOB_FAILURE_CODES)[number];

export const JobFailure = z.strictObject({
  code: z.enum(JOB_FAILURE_CODES),
  message: z.string(),
  retryAfterMs: z.number().int().min(0).optional(),
});
export type JobFailure = z.infer<typeof JobFailure>;

/** A job's return value: the job's result, or the refusal the worker answered with. */
export function jobOutcome<T extends z.ZodType>(value: T) {
  return z.discriminatedUnion('ok', [
    z.strictObject({ ok: z.literal(true), value }),
    z.strictObject({ ok: z.literal(false), error: JobFailure }),
  ]);
}
export type JobOutcome<T> = { ok: true; value: T } | { ok: false; error: JobFailure };

const Done = z.strictObject({});
export const EnsureOutcome = jobOutcome(EnsureResult);
export const RemoveOutcome = jobOutcome(Done);
export const InspectOutcome = jobOutcome(InspectResult);
export const VerifyOutcome = jobOutcome(VerifyResult);
export const RecycleOutcome = jobOutcome(Done);
export const PrepareOutcome = jobOutcome(Done);

/** Every job the worker runs: its data and its outcome. */
export const RUNTIME_JOBS = {
  ensure: { data: EnsureJob, outcome: EnsureOutcome },
  remove: { data: RemoveJob, outcome: RemoveOutcome },
  inspect: { data: InspectJob, outcome: InspectOutcome },
  verify: { data: VerifyJob, outcome: VerifyOutcome },
  recycle: { data: RecycleJob, outcome: RecycleOutcome },
  prepare: { data: PrepareJob, outcome: PrepareOutcome },
} as const;
export type RuntimeJobName = keyof typeof RUNTIME_JOBS;
/** The data a job of `N` carries. */
export type JobData<N extends RuntimeJobName> = z.input<(typeof RUNTIME_JOBS)[N]['data']>;
/** What a job of `N` yields when it is not refused. */
export type JobValue<N extends RuntimeJobName> = Extract<
  z.output<(typeof RUNTIME_JOBS)[N]['outcome']>,
  { ok: true }
>['value'];
