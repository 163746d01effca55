// The approved pack tools this router may serve, read from the pack registry (Redis) on the pin
// watcher's loop and kept in memory, so that building a tenant's tool list stays synchronous. Only
// an approval's tools exist here: a tool a pack lists but nobody approved is never served.
import type { PackApproval } from '../../kernel/packs/pack-approval.ts';
import { packToolDefinitions } from '../../kernel/packs/pack-approval.ts';
import type { TenantPackPin, TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { ToolDefinition } from '../../kernel/tools/tool-definition.ts';

export interface PackApprovalSource {
  list(): Promise<PackApproval[]>;
}

export class PackCatalog {
  private readonly source: PackApprovalSource;
  /** `name@version` -> the approval's tool definitions. */
  private byPin = new Map<string, { approvedAt: string; tools: ToolDefinition[] }>();
  /** Each tenant's pack pins as of the last refresh (for the drift guard, which has only an id). */
  private pinsOf = new Map<string, readonly TenantPackPin[]>();

  constructor(options: { source: PackApprovalSource }) {
    this.source = options.source;
  }

  /** Reloads the approvals; definitions of an approval that did not change are kept as they are. */
  async refresh(tenants: readonly TenantRecord[]): Promise<void> {
    this.pinsOf = new Map(tenants.map((tenant) => [tenant.id, tenant.packs]));
    const next = new Map<string, { approvedAt: string; tools: ToolDefinition[] }>();
    for (const approval of await this.source.list()) {
      const pin = `${approval.name}@${approval.version}`;
      const known = this.byPin.get(pin);
      next.set(
        pin,
        known?.approvedAt === approval.approvedAt
          ? known
          : { approvedAt: approval.approvedAt, tools: packToolDefinitions(approval) },
      );
    }
    this.byPin = next;
  }

  /** The approved tools of the pinned pack versions (none for a version without an approval). */
  toolsFor(pins: readonly TenantPackPin[]): ToolDefinition[] {
    return pins.flatMap((pin) => this.byPin.get(`${pin.name}@${pin.version}`)?.tools ?? []);
  }

  /** Exposed name -> approved digest of every pack tool the tenant enables: the drift guard's pins. */
  digestsFor(tenantId: string): Map<string, string> {
    const tools = this.toolsFor(this.pinsOf.get(tenantId) ?? []);
    return new Map(tools.flatMap((def) => (def.pack ? [[def.name, def.pack.digest] as const] : [])));
  }

  /** A fingerprint of what is approved, so the pin watcher notices a re-approval. */
  approvedAtOf(pin: TenantPackPin): string | undefined {
    return this.byPin.get(`${pin.name}@${pin.version}`)?.approvedAt;
  }
}
