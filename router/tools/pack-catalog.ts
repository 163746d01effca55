// The approved pack tools this router may serve, read from the pack registry (Redis) on the pin
// watcher's loop and kept in memory, so that building a tenant's tool list stays synchronous. Only
// an approval's tools exist here: a tool a pack lists but nobody approved is never served. Their
// scopes are what the router advertises beyond its own (router/auth/advertised-scopes.ts).
import type { Logger } from 'pino';
import type { PackApproval } from '../../kernel/packs/pack-approval.ts';
import { packToolDefinition } from '../../kernel/packs/pack-approval.ts';
import { PackScopeSchema } from '../../kernel/packs/pack-manifest.ts';
import type { TenantPackPin, TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { routerPin, type ToolDefinition } from '../../kernel/tools/tool-definition.ts';

export interface PackApprovalSource {
  list(): Promise<PackApproval[]>;
}

/** One approval as the router holds it. */
interface Approved {
  approvedAt: string;
  tools: ToolDefinition[];
  /** Exposed name -> what the drift guard holds a runtime's presentation to (routerPin). */
  pins: Map<string, string>;
  /** Exposed name -> the prompt as approved. */
  prompts: Map<string, Record<string, unknown>>;
}

/**
 * One approval as served: without a tool whose exposed name one of this router's shared tools has.
 * Pack names cannot take a built-in tool's first word (pack-manifest.ts), but an operator's shared
 * modules (BULKHEAD_SHARED_TOOL_MODULES) are known to the router alone, after any approval: the
 * shared tool keeps its name, and a client is never listed two tools under one.
 */
function approved(approval: PackApproval, options: CatalogOptions): Approved {
  const tools = approval.tools.filter((tool) => {
    if (!options.shared?.includes(tool.exposed)) return true;
    options.logger?.error(
      { pack: approval.name, version: approval.version, tool: tool.exposed, event: 'pack_tool_shadowed' },
      "a pack tool's exposed name is a shared tool's: the pack tool is not served",
    );
    return false;
  });
  // A tool whose schema this router cannot enforce (a pattern approved before patterns had to run
  // in linear time) is not served; the approval's other tools are, and every other approval's.
  const definitions = tools.flatMap((tool) => {
    try {
      return [{ tool, definition: packToolDefinition(approval, tool) }];
    } catch (error) {
      options.logger?.error(
        {
          pack: approval.name,
          version: approval.version,
          tool: tool.exposed,
          event: 'pack_tool_unenforceable',
          err: error,
        },
        "a pack tool's schema cannot be enforced: the pack tool is not served",
      );
      return [];
    }
  });
  return {
    approvedAt: approval.approvedAt,
    tools: definitions.map(({ definition }) => definition),
    pins: new Map(definitions.map(({ tool }) => [tool.exposed, routerPin(tool.definition, tool.digest)])),
    prompts: new Map(approval.prompts.map((prompt) => [String(prompt.name), prompt])),
  };
}

interface CatalogOptions {
  source: PackApprovalSource;
  /** The names of this router's shared tools: no pack tool is served under one. */
  shared?: readonly string[];
  logger?: Pick<Logger, 'error'>;
}

export class PackCatalog {
  private readonly options: CatalogOptions;
  /** `name@version` -> the approval's tool definitions and pins. */
  private byPin = new Map<string, Approved>();
  /** Each tenant's pack pins as of the last refresh (for the drift guard, which has only an id). */
  private pinsOf = new Map<string, readonly TenantPackPin[]>();
  /** The approved tools' scopes, oldest approval first; the same array while they do not change. */
  private approvedScopes: readonly string[] = [];
  #revision = 0;

  constructor(options: CatalogOptions) {
    this.options = options;
  }

  /** Reloads the approvals; definitions of an approval that did not change are kept as they are. */
  async refresh(tenants: readonly TenantRecord[]): Promise<void> {
    this.pinsOf = new Map(tenants.map((tenant) => [tenant.id, tenant.packs]));
    const next = new Map<string, Approved>();
    for (const approval of await this.options.source.list()) {
      const pin = `${approval.name}@${approval.version}`;
      const known = this.byPin.get(pin);
      next.set(pin, known?.approvedAt === approval.approvedAt ? known : approved(approval, this.options));
    }
    this.byPin = next;
    this.#revision += 1;
    const scopes = scopesByAge(next);
    if (scopes.join(' ') !== this.approvedScopes.join(' ')) this.approvedScopes = scopes;
  }

  /**
   * Every scope an approved pack tool needs, deduplicated, in the order of the approval that first
   * names it (oldest first, then by pin): a newer approval never displaces an older one's scopes
   * from a bounded list. The same array until an approval changes them.
   */
  scopes(): readonly string[] {
    return this.approvedScopes;
  }

  /** Bumped by every refresh: what `toolsFor` answers may have changed (tool-surface.ts). */
  get revision(): number {
    return this.#revision;
  }

  /** The approved tools of the pinned pack versions (none for a version without an approval). */
  toolsFor(pins: readonly TenantPackPin[]): ToolDefinition[] {
    return pins.flatMap((pin) => this.byPin.get(`${pin.name}@${pin.version}`)?.tools ?? []);
  }

  /**
   * Exposed name -> pin of every pack tool the tenant enables: the drift guard's pins, each the
   * approved digest of what a runtime can present to the router (routerPin).
   */
  digestsFor(tenantId: string): Map<string, string> {
    const pins = this.pinsOf.get(tenantId) ?? [];
    return new Map(pins.flatMap((pin) => [...(this.byPin.get(`${pin.name}@${pin.version}`)?.pins ?? [])]));
  }

  /** Exposed name -> approved prompt of the pinned pack versions (none for a version without an approval). */
  promptsFor(pins: readonly TenantPackPin[]): Map<string, Record<string, unknown>> {
    return new Map(pins.flatMap((pin) => [...(this.byPin.get(`${pin.name}@${pin.version}`)?.prompts ?? [])]));
  }

  /** A fingerprint of what is approved, so the pin watcher notices a re-approval. */
  approvedAtOf(pin: TenantPackPin): string | undefined {
    return this.byPin.get(`${pin.name}@${pin.version}`)?.approvedAt;
  }
}

function scopesByAge(byPin: Map<string, Approved>): string[] {
  const approvals = [...byPin].sort(([pinA, a], [pinB, b]) =>
    a.approvedAt === b.approvedAt ? (pinA < pinB ? -1 : 1) : a.approvedAt < b.approvedAt ? -1 : 1,
  );
  const scopes = new Set<string>();
  for (const [, { tools }] of approvals)
    for (const { scope } of tools)
      // Checked again as the manifest checks it: a registry entry is data read from Redis.
      if (scope !== null && PackScopeSchema.safeParse(scope).success) scopes.add(scope);
  return [...scopes];
}
