// Changing a tenant: the request becomes registry changes (a plan brings its quotas, tools named
// alone get the manifest's versions), written as a new generation on top of the one the caller saw,
// so a change someone else made in between is a conflict rather than a silent overwrite. A new plan
// or isolation tier needs a new container: an active tenant's runtime is brought onto it at once.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { FieldChange } from '../../kernel/registry/config-diff.ts';
import type { TenantChanges } from '../../kernel/registry/tenant-registry.ts';
import { issueLines, OPERATOR_INPUT } from '../../kernel/errors/input-issues.ts';
import {
  PLAN_QUOTAS,
  planByName,
  QuotasSchema,
  type Quotas,
  type IsolationTier,
  type PlanName,
  type TenantRecord,
} from '../../kernel/tenant/tenant-spec.ts';
import type { ControlPlane, Progress } from './context.ts';
import { issuerBindings } from './onboard.ts';
import { TOOL_VERSIONS } from './tool-versions.ts';
import { packChanges } from './pack-pins.ts';
import type { PackPin } from '../../kernel/packs/pack-manifest.ts';

export interface UpdateRequest {
  plan?: PlanName;
  isolation?: IsolationTier;
  displayName?: string;
  /** Trusted issuer URLs, replacing the current ones. */
  issuers?: string[];
  /** Tool names, replacing the current policy; each opened to agents acting alone. */
  tools?: string[];
  /** Pack versions to enable (or move to), each approved. */
  addPacks?: PackPin[];
  /** Pack names to disable. */
  removePacks?: string[];
  /**
   * Quota overrides on top of the current quotas (or the new plan's, with `plan`): each field given
   * replaces that quota; `tools` maps a tool to its calls per minute, or null to drop its override.
   */
  quotas?: QuotaChanges;
  /**
   * Refuse unless the tenant is still this one (its UID: never handed out again, so a tenant
   * offboarded and onboarded again under the same id is another) at this generation (default: the
   * tenant and generation read now).
   */
  ifGeneration?: { uid: number; generation: number };
}

export interface QuotaChanges extends Partial<Omit<Quotas, 'tools'>> {
  tools?: Record<string, number | null>;
}

export interface UpdateOutcome {
  /** The record as written (its new generation). */
  tenant: TenantRecord;
  previousGeneration: number;
  /** What changed, as the change log recorded it. */
  changes: FieldChange[];
}

export interface UpdateOptions {
  progress: Progress;
  /** Called once the new generation is written, before any runtime is recycled. */
  updated?: (outcome: UpdateOutcome) => void;
}

/** The quotas after `request`'s overrides, checked as a record's quotas are. */
function quotasOf(base: Quotas, overrides: QuotaChanges): Quotas {
  const { tools: toolChanges, ...fields } = overrides;
  const tools: Record<string, number> = { ...base.tools };
  for (const [name, limit] of Object.entries(toolChanges ?? {})) {
    if (limit === null) delete tools[name];
    else tools[name] = limit;
  }
  const { tools: _old, ...rest } = base;
  const next = { ...rest, ...fields, ...(Object.keys(tools).length > 0 ? { tools } : {}) };
  const parsed = QuotasSchema.safeParse(next, OPERATOR_INPUT);
  if (!parsed.success)
    throw new BulkheadError('invalid_input', issueLines(parsed.error, ['quotas']).join('; '));
  return parsed.data;
}

function changesOf(request: UpdateRequest, current: TenantRecord): TenantChanges {
  const changes: TenantChanges = {};
  if (request.plan !== undefined) {
    changes.plan = planByName(request.plan);
    changes.quotas = PLAN_QUOTAS[request.plan];
  }
  if (request.quotas !== undefined)
    changes.quotas = quotasOf(changes.quotas ?? current.quotas, request.quotas);
  if (request.isolation !== undefined) changes.isolation = request.isolation;
  if (request.displayName !== undefined) changes.displayName = request.displayName;
  if (request.issuers !== undefined) changes.issuers = issuerBindings(request.issuers);
  if (request.tools !== undefined)
    changes.tools = request.tools.map((name) => ({
      name,
      version: TOOL_VERSIONS.get(name) ?? '0.0.0-unknown',
      agentsAlone: true,
    }));
  return changes;
}

export async function updateTenant(
  cp: ControlPlane,
  id: string,
  request: UpdateRequest,
  options: UpdateOptions,
): Promise<UpdateOutcome> {
  const current = await cp.registry.require(id);
  const changes = changesOf(request, current);
  const packsTouched = (request.addPacks?.length ?? 0) + (request.removePacks?.length ?? 0) > 0;
  if (packsTouched) {
    const base = { packs: current.packs, roles: changes.roles ?? current.roles };
    Object.assign(
      changes,
      await packChanges(cp.packRegistry, base, {
        add: request.addPacks ?? [],
        remove: request.removePacks ?? [],
      }),
    );
  }
  if (Object.keys(changes).length === 0) throw new BulkheadError('invalid_input', 'nothing to change');
  const tenant = await cp.registry.update(id, {
    expectedGeneration: request.ifGeneration?.generation ?? current.generation,
    expectedUid: request.ifGeneration?.uid ?? current.uid,
    changes,
    author: { actor: cp.actor, reason: 'update' },
  });
  const [entry] = (await cp.registry.history(id)).slice(-1);
  const outcome = { tenant, previousGeneration: current.generation, changes: entry?.changes ?? [] };
  options.updated?.(outcome);
  // A new plan, tier or set of packs needs a new container (a pack pin changes the tenant's image).
  if (tenant.status === 'active' && (changes.plan || changes.isolation || packsTouched)) {
    options.progress('recycling the runtime onto the new settings');
    await cp.runtimes.ensure(id);
  }
  return outcome;
}
