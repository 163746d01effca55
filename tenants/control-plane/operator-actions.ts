// What an operator does to a running tenant from a front end other than the CLI (the console), each
// recorded in the tenant's audit trail with who asked and why, next to the calls it affects. A
// refused attempt (an auditor's, say) is recorded too, as a denial.
import type { AuditSink } from '../../kernel/audit/audit-trail.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { TenantIdSchema, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { IsolationReport } from '../../supervisor/client/isolation-report.ts';
import type { ControlPlane } from './context.ts';
import { setStatus } from './status.ts';
import { verifyTenant } from './verify.ts';

export const OPERATOR_ACTIONS = ['suspend', 'resume', 'recycle', 'verify'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/**
 * The `tool` an operator action is recorded under in the audit trail (no tool's name has a `/`, but
 * an agent may ask for this name: the record's `kind: 'operator'` is what only this module writes).
 */
export function auditToolOf(action: OperatorAction): string {
  return `operator/${action}`;
}

export interface ActionRequest {
  tenant: string;
  action: OperatorAction;
  /** Who, as the front end authenticated them (e.g. `console:<sub>`). */
  actor: string;
  /** Why, in their words: required. */
  reason: string;
}

const MAX_REASON = 500;

function checkedReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length === 0) throw new BulkheadError('invalid_input', 'a reason is required');
  if (trimmed.length > MAX_REASON || /[\p{Cc}]/u.test(trimmed))
    throw new BulkheadError('invalid_input', `a reason is one line of at most ${MAX_REASON} characters`);
  return trimmed;
}

/** Records an attempt the front end refused (the actor may not act), then nothing else happens. */
export async function recordRefusedAction(
  audit: AuditSink,
  request: ActionRequest,
  why: string,
): Promise<void> {
  await audit.append({
    tenant: TenantIdSchema.parse(request.tenant),
    user: request.actor,
    agent: null,
    tool: auditToolOf(request.action),
    decision: 'deny',
    kind: 'operator',
    // The asked reason is whatever the refused actor typed: one line, as an allowed action's is.
    reason: `${why}; asked with reason: ${request.reason.replace(/\p{Cc}/gu, ' ').slice(0, MAX_REASON)}`,
  });
}

export type ActionResult = { tenant: TenantRecord } | { report: IsolationReport } | { recycled: true };

/**
 * Runs one action for an actor allowed to act: records it in the audit trail first (so an action
 * that fails half-way is still on record), then does it through the same use cases as the CLI.
 */
export async function runOperatorAction(
  cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'audit' | 'evidence'>,
  request: ActionRequest,
): Promise<ActionResult> {
  const reason = checkedReason(request.reason);
  const tenant = await cp.registry.require(TenantIdSchema.parse(request.tenant));
  await cp.audit.append({
    tenant: tenant.id,
    user: request.actor,
    agent: null,
    tool: auditToolOf(request.action),
    decision: 'permit',
    kind: 'operator',
    reason,
  });
  const acting = { ...cp, actor: request.actor };
  const quiet = (): void => undefined;
  switch (request.action) {
    case 'suspend':
      return { tenant: await setStatus(acting, tenant.id, 'suspended', quiet, reason) };
    case 'resume':
      return { tenant: await setStatus(acting, tenant.id, 'active', quiet, reason) };
    case 'recycle':
      if (tenant.status !== 'active')
        throw new BulkheadError('tenant_suspended', `tenant "${tenant.id}" is suspended: nothing to recycle`);
      await cp.runtimes.recycle({ tenantId: tenant.id, reason: `operator: ${reason}`.slice(0, 200) });
      return { recycled: true };
    case 'verify':
      return { report: await verifyTenant(cp, tenant.id) };
  }
}
