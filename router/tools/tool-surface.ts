// Which tool definitions a tenant is served: the versions its record pins (tenant.tools), the
// approved tools of the pack versions it pins (tenant.packs), the shared tools registered in this
// router, minus tenant tools the drift guard withholds. Wire
// definitions are derived once per definition: the JSON Schema a client sees is what we enforce.
// A tenant's list is kept per tenant record (the tenant directory hands out the same record until it
// reads it again) while the drift guard and the pack catalog are at the same revision, so a request
// does not rebuild, filter and sort it: it depends on nothing else.
import type { Tool } from '@modelcontextprotocol/server';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { MANIFEST } from '../../kernel/packs/manifest.ts';
import { wireTool, type ToolDefinition } from '../../kernel/tools/tool-definition.ts';
import type { ToolGuard } from './drift-guard.ts';
import type { PackCatalog } from './pack-catalog.ts';

export interface ServedTool {
  definition: ToolDefinition;
  wire: Tool;
}

/** The pack catalog as the surface reads it; without `revision`, a tenant's list is never kept. */
type PackSource = Pick<PackCatalog, 'toolsFor'> & { readonly revision?: number };

/** A tenant's list, and the revisions of the guard and the catalog it was built at. */
interface Kept {
  guard: number;
  packs: number;
  served: readonly ServedTool[];
}

export class ToolSurface {
  private readonly shared: readonly ToolDefinition[];
  private readonly tenantVersions: readonly ToolDefinition[];
  private readonly current = new Map<string, ToolDefinition>();
  private readonly wire = new WeakMap<ToolDefinition, Tool>();
  private readonly guard: ToolGuard | undefined;
  private readonly packs: PackSource | undefined;
  private readonly kept = new WeakMap<TenantRecord, Kept>();

  constructor(options: {
    shared: readonly ToolDefinition[];
    guard?: ToolGuard;
    tenantTools?: readonly ToolDefinition[];
    /** Approved pack tools; without it no pack tool is served. */
    packs?: PackSource;
  }) {
    this.packs = options.packs;
    this.shared = options.shared;
    this.tenantVersions = options.tenantTools ?? MANIFEST.filter((def) => def.kind === 'tenant');
    for (const def of this.tenantVersions) if (!def.deprecated) this.current.set(def.name, def);
    this.guard = options.guard;
  }

  /** The definitions served to this tenant, sorted by name (deterministic tools/list). */
  forTenant(tenant: TenantRecord | undefined): readonly ServedTool[] {
    // A source without a revision cannot say when its answer changes: nothing is kept then.
    const guard = this.guard ? this.guard.revision : 0;
    const packs = this.packs ? this.packs.revision : 0;
    if (!tenant || guard === undefined || packs === undefined) return this.build(tenant);
    const kept = this.kept.get(tenant);
    if (kept?.guard === guard && kept.packs === packs) return kept.served;
    const served = this.build(tenant);
    this.kept.set(tenant, { guard, packs, served });
    return served;
  }

  private build(tenant: TenantRecord | undefined): readonly ServedTool[] {
    const pins = new Map((tenant?.tools ?? []).map((pin) => [pin.name, pin.version]));
    const served: ToolDefinition[] = this.shared.filter((def) => {
      const pinned = pins.get(def.name);
      return pinned === undefined || pinned === def.version;
    });
    if (tenant?.status === 'active') {
      // A record without pins (written before pinning existed) gets the current versions.
      const tenantDefs =
        pins.size === 0
          ? [...this.current.values()]
          : this.tenantVersions.filter((def) => pins.get(def.name) === def.version);
      const packDefs = this.packs?.toolsFor(tenant.packs) ?? [];
      served.push(
        ...[...tenantDefs, ...packDefs].filter((def) => !this.guard?.isWithheld(tenant.id, def.name)),
      );
    }
    return served
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((definition) => ({ definition, wire: this.wireOf(definition) }));
  }

  private wireOf(def: ToolDefinition): Tool {
    let wire = this.wire.get(def);
    if (!wire) {
      wire = wireTool(def);
      this.wire.set(def, wire);
    }
    return wire;
  }
}
