// Onboarding and offboarding as all-or-nothing steps with progress, shared by the CLI commands and
// the demo stack.
import type { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import type { RuntimeStatus } from '../../supervisor/client/runtime-jobs.ts';
import type { RuntimeEndpoint } from '../contracts/runtime-endpoint.ts';
import {
  planByName,
  TenantIdSchema,
  type IsolationTier,
  type TenantRecord,
} from '../contracts/tenant-spec.ts';
import type { TenantRegistry } from '../registry/tenant-registry.ts';

export type Progress = (message: string) => void;

export interface OnboardRequest {
  id: string;
  plan: string;
  isolation: IsolationTier;
  displayName?: string;
  /** Access policy; the registry's safe defaults when omitted (agents alone get `whoami` only). */
  tools?: TenantRecord['tools'];
  roles?: TenantRecord['roles'];
  issuers?: TenantRecord['issuers'];
}

export interface OnboardResult {
  tenant: TenantRecord;
  endpoint: RuntimeEndpoint;
  runtime: RuntimeStatus | null;
  ms: number;
}

export async function onboardTenant(
  deps: { registry: TenantRegistry; runtimes: RuntimeClient },
  request: OnboardRequest,
  progress: Progress,
): Promise<OnboardResult> {
  const started = performance.now();
  progress('validating the request');
  const id = TenantIdSchema.parse(request.id);
  const plan = planByName(request.plan);
  progress(`registering tenant "${id}" (plan ${plan.name}, isolation ${request.isolation})`);
  const tenant = await deps.registry.create({
    id,
    plan,
    isolation: request.isolation,
    ...(request.displayName ? { displayName: request.displayName } : {}),
    ...(request.tools ? { tools: request.tools } : {}),
    ...(request.roles ? { roles: request.roles } : {}),
    ...(request.issuers ? { issuers: request.issuers } : {}),
  });
  try {
    progress(`creating the data volume and starting the hardened container (UID ${tenant.uid})`);
    const endpoint = await deps.runtimes.ensure(id);
    progress('runtime is healthy');
    const runtime = await deps.runtimes.inspect(id);
    return { tenant, endpoint, runtime, ms: Math.round(performance.now() - started) };
  } catch (error) {
    // All or nothing: a tenant that could not get a runtime leaves no record, container or volume.
    progress(`failed (${(error as Error).message}): rolling back`);
    await deps.runtimes.remove(id, { purgeData: true }).catch(() => undefined);
    await deps.registry.delete(id);
    throw error;
  }
}

export async function offboardTenant(
  deps: { registry: TenantRegistry; runtimes: RuntimeClient },
  id: string,
  progress: Progress,
): Promise<{ removed: string[] }> {
  const tenant = await deps.registry.require(TenantIdSchema.parse(id));
  progress(`stopping and removing the container of "${tenant.id}", then its volume and socket directory`);
  await deps.runtimes.remove(tenant.id, { purgeData: true });
  progress('removing the registry record');
  await deps.registry.delete(tenant.id);
  return { removed: ['container', 'data volume', 'socket directory', 'registry record'] };
}
