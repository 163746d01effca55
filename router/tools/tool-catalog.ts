// Which tools a principal may see and call, from the approved manifest only. A tool the principal
// may not use is indistinguishable from one that does not exist.
import type { TenantRecord } from '../../tenants/contracts/tenant-spec.ts';
import { SHARED_TOOLS, type ToolDefinition } from '../../tenants/contracts/tool-manifest.ts';
import type { Principal } from '../auth/principal.ts';
import { ToolSurface, type ServedTool } from './tool-surface.ts';

export type VisibleTool = ServedTool;

const DEFAULT_SURFACE = new ToolSurface({ shared: SHARED_TOOLS });

export function visibleTools(
  principal: Principal,
  tenant: TenantRecord | undefined,
  surface: ToolSurface = DEFAULT_SURFACE,
): VisibleTool[] {
  return surface
    .forTenant(tenant)
    .filter(
      ({ definition }: { definition: ToolDefinition }) =>
        definition.scope === null || principal.scopes.includes(definition.scope),
    );
}
