// Tenants kept as YAML in git: `parseTenantsYaml` validates a whole file first (schema and
// manifest), `planApply` computes what each tenant would change against the registry, and
// `applyPlan` writes each change on top of the generation the plan was computed from, so a change
// made by someone else in between is a conflict, not a silent overwrite.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { fieldLine, issueLines, OPERATOR_INPUT } from '../../kernel/errors/input-issues.ts';
import { diffValues, type FieldChange } from '../../kernel/registry/config-diff.ts';
import {
  configOf,
  manifestIssues,
  TenantConfigFileSchema,
  type TenantConfig,
} from '../../kernel/tenant/tenant-config.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { ControlPlane } from './context.ts';
import { assertPacksApproved } from './pack-pins.ts';
import { setAsideEarlierTrail } from './earlier-trail.ts';

/** The file itself is unusable: malformed YAML, a schema violation, a tenant listed twice. */
export class ApplyInputError extends BulkheadError<'invalid_input'> {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('invalid_input', message, options);
  }
}

/** Parses and validates a tenants YAML document; nothing is written when this throws. */
export function parseTenantsYaml(text: string, source: string): TenantConfig[] {
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    if (error instanceof YAMLParseError)
      throw new ApplyInputError(`${source}: malformed YAML: ${error.message}`, { cause: error });
    throw error;
  }
  const parsed = TenantConfigFileSchema.safeParse(document, OPERATOR_INPUT);
  if (!parsed.success)
    throw new ApplyInputError(`invalid tenants file ${source}:\n  ${issueLines(parsed.error).join('\n  ')}`);
  const ids = parsed.data.tenants.map((t) => t.id);
  const duplicate = ids.find((id, index) => ids.indexOf(id) !== index);
  if (duplicate) throw new ApplyInputError(`${source}: tenant "${duplicate}" appears twice`);
  // What the manifest refuses (an unknown tool or version), as the schema's refusals are: the file
  // named once, then each field's line, its path from the file's top.
  const unknown = parsed.data.tenants.flatMap((tenant, i) =>
    manifestIssues(tenant).map((issue) => fieldLine(['tenants', i, ...issue.path], issue.message)),
  );
  if (unknown.length > 0)
    throw new ApplyInputError(`invalid tenants file ${source}:\n  ${unknown.join('\n  ')}`);
  return parsed.data.tenants;
}

export interface PlannedChange {
  config: TenantConfig;
  /** The record the change was computed against; absent for a new tenant. */
  current: TenantRecord | undefined;
  changes: FieldChange[];
}

/** What applying `configs` would change, tenant by tenant, in file order. */
export async function planApply(
  cp: Pick<ControlPlane, 'registry'>,
  configs: TenantConfig[],
): Promise<PlannedChange[]> {
  const plan: PlannedChange[] = [];
  for (const config of configs) {
    const current = await cp.registry.get(config.id);
    const changes = current ? diffValues(configOf(current), config) : diffValues({}, config);
    plan.push({ config, current, changes });
  }
  return plan;
}

/** The planned changes that change something. */
export const pendingOf = (plan: PlannedChange[]): PlannedChange[] => plan.filter((p) => p.changes.length > 0);

/**
 * Writes every pending change of `plan`, in order, each guarded by the generation it was planned
 * against; `applied` hears of each tenant as it is written (and whether its image and volume are
 * being readied). Returns the ids written.
 */
export async function applyPlan(
  cp: Pick<ControlPlane, 'registry' | 'actor' | 'packRegistry' | 'runtimes' | 'audit'>,
  plan: PlannedChange[],
  options: {
    reason: string;
    applied?: (id: string, outcome: { prepared: boolean }) => void;
    /** A line to show the operator about one tenant, as it is written. */
    said?: (id: string, line: string) => void;
  },
): Promise<string[]> {
  const author = { actor: cp.actor, reason: options.reason };
  const written: string[] = [];
  // Every pinned pack version must be approved before anything is written.
  for (const p of pendingOf(plan)) await assertPacksApproved(cp.packRegistry, p.config.packs);
  for (const p of pendingOf(plan)) {
    const { id, ...rest } = p.config;
    // A new active tenant's image and volume are readied now, in the background: its first call
    // only creates and starts its container.
    const prepared = !p.current && p.config.status === 'active';
    if (!p.current) {
      await setAsideEarlierTrail(cp.audit, id, (line) => options.said?.(id, line));
      await cp.registry.create({ id, ...rest }, author);
    } else
      await cp.registry.update(id, {
        expectedGeneration: p.current.generation,
        expectedUid: p.current.uid,
        changes: rest,
        author,
      });
    if (prepared) await cp.runtimes.requestPrepare(id);
    written.push(id);
    options.applied?.(id, { prepared });
    // A changed pack pin changes the tenant's image: bring its runtime onto it now.
    const packsChanged = JSON.stringify(p.current?.packs ?? []) !== JSON.stringify(p.config.packs);
    if (p.current && packsChanged && p.config.status === 'active') await cp.runtimes.ensure(id);
  }
  return written;
}
