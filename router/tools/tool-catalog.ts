// Which tools a principal may see and call: the tenant's served surface (pinned versions from the
// approved manifest, shared tools, minus what the drift guard withholds), filtered by the
// authorization policy. A tool the principal may not use is indistinguishable from one that does
// not exist.
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { SHARED_TOOLS } from '../../kernel/packs/manifest.ts';
import type { Principal } from '../identity/principal.ts';
import { decideTool, type ToolDecision } from '../authz/tool-policy.ts';
import { ToolSurface, type ServedTool } from './tool-surface.ts';

export type VisibleTool = ServedTool;

const DEFAULT_SURFACE = new ToolSurface({ shared: SHARED_TOOLS });

/** The definition this tenant is served under `name`, if any. */
export function servedTool(
  tenant: TenantRecord | undefined,
  name: string,
  surface: ToolSurface = DEFAULT_SURFACE,
): VisibleTool | undefined {
  return surface.forTenant(tenant).find((tool) => tool.definition.name === name);
}

/** The authorization decision for calling `name` (tool-policy.ts decides; this only looks it up). */
export function decideCall(
  principal: Principal,
  tenant: TenantRecord | undefined,
  name: string,
  surface: ToolSurface = DEFAULT_SURFACE,
): ToolDecision {
  return decideTool({ caller: principal, tenant, tool: servedTool(tenant, name, surface)?.definition });
}

/** The tools the principal may call right now, in a deterministic order. */
export function visibleTools(
  principal: Principal,
  tenant: TenantRecord | undefined,
  surface: ToolSurface = DEFAULT_SURFACE,
): VisibleTool[] {
  return surface
    .forTenant(tenant)
    .filter(({ definition }) => decideTool({ caller: principal, tenant, tool: definition }).permit);
}
