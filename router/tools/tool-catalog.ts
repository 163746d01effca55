// Which tools a principal may see and call, from the approved manifest only. A tool the principal
// may not use is indistinguishable from one that does not exist.
import { z } from 'zod';
import type { Tool } from '@modelcontextprotocol/server';
import { RECORDS_TOOLS, SHARED_TOOLS, type ToolDefinition } from '../../tenants/contracts/tool-manifest.ts';
import type { TenantRecord } from '../../tenants/contracts/tenant-spec.ts';
import type { Principal } from '../auth/principal.ts';
import { decideTool, type ToolDecision } from '../authz/tool-policy.ts';

const MANIFEST: readonly ToolDefinition[] = [...SHARED_TOOLS, ...RECORDS_TOOLS];

/** Wire definitions are derived once: the JSON Schema the client sees is the schema we enforce. */
const WIRE = new Map<string, Tool>(
  MANIFEST.map((def) => [
    def.name,
    {
      name: def.name,
      title: def.title,
      description: def.description,
      inputSchema: z.toJSONSchema(def.inputSchema, { io: 'input' }) as Tool['inputSchema'],
      annotations: {
        title: def.title,
        readOnlyHint: !def.writes,
        destructiveHint: def.writes && def.name.endsWith('_delete'),
        openWorldHint: false,
      },
    },
  ]),
);

export interface VisibleTool {
  definition: ToolDefinition;
  wire: Tool;
}

/** The manifest entry of a tool, if the manifest has one. */
export function manifestTool(name: string): ToolDefinition | undefined {
  return MANIFEST.find((def) => def.name === name);
}

/** The authorization decision for calling `name` (tool-policy.ts decides; this only looks it up). */
export function decideCall(
  principal: Principal,
  tenant: TenantRecord | undefined,
  name: string,
): ToolDecision {
  return decideTool({ caller: principal, tenant, tool: manifestTool(name) });
}

/** The wire definition of a manifest tool. */
export function wireTool(definition: ToolDefinition): VisibleTool {
  return { definition, wire: WIRE.get(definition.name)! };
}

/** The tools the principal may call right now, in a deterministic order. */
export function visibleTools(principal: Principal, tenant: TenantRecord | undefined): VisibleTool[] {
  return MANIFEST.filter((tool) => decideTool({ caller: principal, tenant, tool }).permit)
    .map(wireTool)
    .sort((a, b) => a.definition.name.localeCompare(b.definition.name));
}
