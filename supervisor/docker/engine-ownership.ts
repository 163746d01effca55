// Whose an engine object found by name is. A tenant's names (`bulkhead-<namespace>-<tenant>`, its
// `-data` volume and `-volinit` helper) are not unique across installations: namespace `prod` with
// tenant `a-acme` and namespace `prod-a` with tenant `acme` both name `bulkhead-prod-a-acme`, and
// each installation hands out UIDs from the same first one. So a container, helper or volume found
// under a tenant's name is used, stopped or removed only when its labels say it is this
// installation's and this tenant's; anything else is refused, naming whose it says it is.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { LABELS } from './labels.ts';

export interface Owner {
  namespace: string;
  tenantId: string;
}

type Labels = Record<string, string> | null | undefined;

/** Whether labels say the object is this installation's (any of its tenants', or none's). */
export function ofInstallation(labels: Labels, namespace: string): boolean {
  return labels?.[LABELS.managed] === 'true' && labels[LABELS.namespace] === namespace;
}

/** Whether labels say this installation's tenant owns the object (a helper carries no tenant label). */
export function ownedBy(labels: Labels, owner: Owner, options: { helper?: boolean } = {}): boolean {
  return (
    ofInstallation(labels, owner.namespace) &&
    (options.helper ? labels?.[LABELS.role] === 'volume-init' : labels?.[LABELS.tenant] === owner.tenantId)
  );
}

/** Whose the labels say an object is, for a refusal's message. */
export function claimedOwner(labels: Labels): string {
  const namespace = labels?.[LABELS.namespace];
  if (!namespace) return 'no Bulkhead installation';
  return `namespace ${namespace}, ${labels[LABELS.tenant] ? `tenant ${labels[LABELS.tenant]}` : 'no tenant'}`;
}

/** Throws unless the object named `name` is the owner's (see `ownedBy`). */
export function assertOwned(
  what: { kind: string; name: string; labels: Labels; helper?: boolean },
  owner: Owner,
): void {
  if (ownedBy(what.labels, owner, { helper: what.helper ?? false })) return;
  throw new BulkheadError(
    'runtime_failed',
    `${what.kind} ${what.name} is not tenant ${owner.tenantId}'s of namespace ${owner.namespace} ` +
      `(its labels say ${claimedOwner(what.labels)}): left alone, as another installation's names ` +
      'collide with this one (docs/lifecycle.md, "Names two installations share")',
  );
}
