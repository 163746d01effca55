// The tool authorization decision, pure: a call is permitted only when the tool is enabled for the
// tenant, the user's roles in the tenant grant it to the user (or, for a token with no human user,
// the tenant opened it to agents acting alone), and the token's scopes grant it to the agent. Each
// check is independent: an agent's broad scope never lifts a user's permissions, and a user's role
// never lifts an agent's scopes.
//
// Order matters for what a denial reveals. Everything that depends on who the principal is comes
// before the scope check, and every denial before it is "hidden": the caller sees exactly what an
// unknown tool looks like. Only a principal that may otherwise use the tool learns that a scope is
// missing (the step-up answer, 403 insufficient_scope naming that scope).
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { MANIFEST, type ToolDefinition } from '../../kernel/packs/manifest.ts';

/** The parts of a verified principal the decision reads. */
export interface ToolCaller {
  /** null for an agent acting alone (client credentials). */
  user: string | null;
  scopes: readonly string[];
  /** The user's roles in the tenant, from the roles claim of the issuer binding. */
  roles: readonly string[];
}

export type DenyReason =
  | 'unknown_tool'
  | 'unknown_tenant'
  | 'tenant_inactive'
  | 'tool_not_enabled'
  | 'tool_version_not_pinned'
  | 'not_open_to_agents_alone'
  | 'user_role_denies'
  | 'insufficient_scope';

export type PermitReason =
  'user_role_and_scope_allow' | 'open_to_agents_alone_and_scope_allows' | 'operator_shared_tool';

export type ToolDecision =
  | { permit: true; reason: PermitReason }
  /** `hidden`: answer exactly as for a tool that does not exist. */
  | { permit: false; reason: Exclude<DenyReason, 'insufficient_scope'>; answer: 'hidden' }
  /** `step_up`: the principal may use the tool once its token carries `scope`. */
  | { permit: false; reason: 'insufficient_scope'; answer: 'step_up'; scope: string };

export interface ToolDecisionInput {
  caller: ToolCaller;
  tenant: TenantRecord | undefined;
  /** The manifest entry, or undefined when the manifest has no such tool. */
  tool: ToolDefinition | undefined;
}

function hidden(reason: Exclude<DenyReason, 'insufficient_scope'>): ToolDecision {
  return { permit: false, reason, answer: 'hidden' };
}

/** The tools a user's roles grant, as the union over the roles the tenant defines. */
export function toolsOfRoles(tenant: TenantRecord, roles: readonly string[]): Set<string> {
  const granted = new Set<string>();
  for (const role of roles) {
    // Own properties only: a role named "constructor" or "__proto__" grants nothing.
    if (!Object.hasOwn(tenant.roles, role)) continue;
    for (const tool of tenant.roles[role] ?? []) granted.add(tool);
  }
  return granted;
}

const MANIFEST_NAMES = new Set(MANIFEST.map((tool) => tool.name));

export function decideTool({ caller, tenant, tool }: ToolDecisionInput): ToolDecision {
  if (!tool) return hidden('unknown_tool');
  if (!tenant) return hidden('unknown_tenant');
  if (tool.kind === 'tenant' && tenant.status !== 'active') return hidden('tenant_inactive');
  // A pack tool is enabled by its pack's pin (tenant.packs), a built-in by its own (tenant.tools).
  const pin = tool.pack
    ? tenant.packs.find((p) => p.name === tool.pack?.name)
    : tenant.tools.find((t) => t.name === tool.name);
  // An operator's own shared tool (a module loaded by the router, not in the tenant manifest)
  // cannot be pinned by tenants: it is read-only and tenant-agnostic, so it is served to every
  // caller the scope allows. Pinned shared tools follow their pin like any other tool.
  if (!pin && tool.kind === 'shared' && !MANIFEST_NAMES.has(tool.name)) {
    if (tool.scope !== null && !caller.scopes.includes(tool.scope)) {
      return { permit: false, reason: 'insufficient_scope', answer: 'step_up', scope: tool.scope };
    }
    return { permit: true, reason: 'operator_shared_tool' };
  }
  if (!pin) return hidden('tool_not_enabled');
  if (pin.version !== tool.version) return hidden('tool_version_not_pinned');
  if (caller.user === null) {
    if (!pin.agentsAlone) return hidden('not_open_to_agents_alone');
  } else if (!toolsOfRoles(tenant, caller.roles).has(tool.name)) {
    return hidden('user_role_denies');
  }
  if (tool.scope !== null && !caller.scopes.includes(tool.scope)) {
    return { permit: false, reason: 'insufficient_scope', answer: 'step_up', scope: tool.scope };
  }
  return {
    permit: true,
    reason: caller.user === null ? 'open_to_agents_alone_and_scope_allows' : 'user_role_and_scope_allow',
  };
}
