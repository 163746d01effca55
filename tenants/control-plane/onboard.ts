// Onboarding as all-or-nothing steps with progress, shared by the CLI and the demo stack. Re-running
// it for a tenant that exists with the same settings is a no-op that makes sure the runtime is up;
// a failure part-way removes exactly what this run created (record, container, volume), and a
// removal that fails too is reported with the failure that called for it.
import type { IsolationReport } from '../../supervisor/client/isolation-report.ts';
import type { RuntimeStatus } from '../../supervisor/client/runtime-jobs.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import {
  PLAN_QUOTAS,
  planByName,
  TenantIdSchema,
  type IsolationTier,
  type PlanName,
  type TenantRecord,
} from '../../kernel/tenant/tenant-spec.ts';
import { BulkheadError, errorMessage, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { TenantExistsError } from '../../kernel/registry/tenant-registry.ts';
import type { ControlPlane, Progress } from './context.ts';
import { setAsideEarlierTrail } from './earlier-trail.ts';

export interface OnboardRequest {
  id: string;
  plan: string;
  isolation: IsolationTier;
  displayName?: string;
  /** Trusted issuer URLs for this tenant (empty: the installation's default issuer). */
  issuers?: string[];
  /** Access policy; the registry's safe defaults when omitted (agents alone get `whoami` only). */
  tools?: TenantRecord['tools'];
  roles?: TenantRecord['roles'];
  /** Call quotas (docs/rate-limits.md); the plan's when omitted. */
  quotas?: TenantRecord['quotas'];
  /** Who asks, for the registry's change log. */
  actor?: string;
  /** Run the isolation evidence checks at the end (a supervisor job). */
  verify?: boolean;
}

export interface OnboardResult {
  tenant: TenantRecord;
  /** False when the tenant already existed with these settings (an idempotent re-run). */
  created: boolean;
  endpoint: RuntimeEndpoint;
  runtime: RuntimeStatus | null;
  evidence: IsolationReport | null;
  ms: number;
}

function sameSettings(
  existing: TenantRecord,
  wanted: Omit<TenantRecord, 'uid' | 'createdAt' | 'generation'>,
): boolean {
  return (
    existing.plan.name === wanted.plan.name &&
    existing.isolation === wanted.isolation &&
    existing.displayName === wanted.displayName &&
    JSON.stringify(existing.issuers.map((i) => i.issuer)) ===
      JSON.stringify(wanted.issuers.map((i) => i.issuer))
  );
}

/** Issuer URLs as bindings with the default claim names (`tenant`, `roles`). */
export function issuerBindings(issuers: readonly string[]): TenantRecord['issuers'] {
  return issuers.map((issuer) => ({ issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }));
}

export async function onboardTenant(
  deps: Pick<ControlPlane, 'registry' | 'runtimes' | 'audit'>,
  request: OnboardRequest,
  progress: Progress,
): Promise<OnboardResult> {
  const started = performance.now();
  const author = { actor: request.actor ?? 'onboard', reason: 'onboard' };
  progress('validating the request');
  const id = TenantIdSchema.parse(request.id);
  const plan = planByName(request.plan);
  const issuers = issuerBindings(request.issuers ?? []);
  const displayName = request.displayName ?? id;
  const existing = await deps.registry.get(id);
  let tenant: TenantRecord;
  let created = false;
  if (existing) {
    const wanted = { ...existing, plan, isolation: request.isolation, displayName, issuers };
    if (!sameSettings(existing, wanted))
      throw new TenantExistsError(
        `tenant "${id}" already exists with other settings: use "update" to change it`,
      );
    progress(
      `tenant "${id}" already exists with these settings (generation ${existing.generation}): nothing to register`,
    );
    tenant = existing;
  } else {
    await setAsideEarlierTrail(deps.audit, id, progress);
    progress(`registering tenant "${id}" (plan ${plan.name}, isolation ${request.isolation})`);
    tenant = await deps.registry.create(
      {
        id,
        displayName,
        plan,
        quotas: request.quotas ?? PLAN_QUOTAS[plan.name as PlanName],
        isolation: request.isolation,
        issuers,
        ...(request.tools ? { tools: request.tools } : {}),
        ...(request.roles ? { roles: request.roles } : {}),
      },
      author,
    );
    created = true;
  }
  try {
    progress(`creating the data volume and starting the hardened container (UID ${tenant.uid})`);
    const endpoint = await deps.runtimes.ensure(id);
    progress('runtime is healthy');
    const runtime = await deps.runtimes.inspect(id);
    let evidence: IsolationReport | null = null;
    if (request.verify ?? true) {
      progress('collecting isolation evidence (container configuration and in-container probes)');
      evidence = await deps.runtimes.verify(id);
    }
    return { tenant, created, endpoint, runtime, evidence, ms: Math.round(performance.now() - started) };
  } catch (error) {
    if (!created) throw error;
    // All or nothing: a tenant that could not get a runtime leaves no record, container or volume.
    progress(`failed (${(error as Error).message}): rolling back`);
    try {
      await rollBack(deps, tenant, author.actor);
    } catch (rollbackError) {
      throw rollbackFailed(id, error, rollbackError);
    }
    progress('rolled back: no record, container or volume left');
    throw error;
  }
}

async function rollBack(
  deps: Pick<ControlPlane, 'registry' | 'runtimes'>,
  tenant: TenantRecord,
  actor: string,
): Promise<void> {
  // Suspended before the purge: an ensure still queued for it (this command gave up waiting)
  // then finds the tenant not active once it holds the tenant's lock, and makes nothing after the
  // purge (supervisor/lifecycle/tenant-gate.ts).
  const suspended = await deps.registry.update(tenant.id, {
    expectedGeneration: tenant.generation,
    expectedUid: tenant.uid,
    changes: { status: 'suspended' },
    author: { actor, reason: 'onboard rolled back: suspend' },
  });
  await deps.runtimes.remove(tenant.id, { purgeData: true });
  // Only the record this rolled back: a change since (a resume) keeps it, as for an offboarding.
  await deps.registry.delete(
    tenant.id,
    { actor, reason: 'onboard rolled back' },
    { expectedGeneration: suspended.generation, expectedUid: suspended.uid },
  );
}

/**
 * An onboarding that failed and whose rollback failed too (another operator changed the record
 * meanwhile, the purge failed): the operator must learn why the onboarding failed, not only why its
 * undoing did, and that something is left. The error keeps the first failure's code (and so the
 * CLI's exit code), not its retry hint (a retry meets what is left), and names both failures; `cause` is the first failure and
 * `details.rollback` the rollback's code and message.
 */
function rollbackFailed(id: string, failure: unknown, rollbackFailure: unknown): BulkheadError {
  const rollback = {
    code: isBulkheadError(rollbackFailure) ? rollbackFailure.code : undefined,
    message: errorMessage(rollbackFailure),
  };
  return new BulkheadError(
    isBulkheadError(failure) ? failure.code : 'runtime_failed',
    `${errorMessage(failure)}; rolling the onboarding back failed too (${rollback.message}): ` +
      `what it made of tenant "${id}" may be left ("bulkhead show ${id}"; "bulkhead offboard ${id}" removes it)`,
    { cause: failure, details: { rollback } },
  );
}
