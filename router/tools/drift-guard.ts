// Rug-pull protection (docs/architecture.md, "Trust boundaries"): the router pins the digest of
// every approved tenant tool definition and compares what each tenant container presents, when a
// route to it is established and periodically after. A tool whose definition drifted, or that went
// missing, is withheld for that tenant (not listed, not called) and the event is logged; a later
// check that matches again (for example after the container was recycled) serves it again. What one
// router withholds, the others of the installation withhold too, from their next poll of the shared
// set (router/tools/shared-withheld.ts, `share`), for as long as that router's checks keep finding it
// drifted, whatever their own checks find.
import type { Logger } from 'pino';
import type { Withheld } from '../../kernel/registry/withheld-tools.ts';
import {
  asPresentedToRouter,
  definitionDigest,
  matchesPin,
  wireTool,
  type ListedTool,
  type ToolDefinition,
} from '../../kernel/tools/tool-definition.ts';

/**
 * A definition as the runtime presents it: every field counts (definitionDigest) but those the
 * 2026-07-28 revision deleted, which no runtime can present to the router (asPresentedToRouter).
 */
export type PresentedTool = ListedTool;

export interface ToolGuard {
  check(tenant: string, presented: readonly PresentedTool[]): void;
  isWithheld(tenant: string, tool: string): boolean;
  /** Changes whenever a tool is withheld or served again; a guard without it is asked every time. */
  readonly revision?: number;
}

export class DriftGuard implements ToolGuard {
  private readonly approved: Map<string, string>;
  /** What this router's own checks withhold, per tenant. */
  private readonly withheld = new Map<string, Map<string, Withheld>>();
  /** What the other routers' checks withhold (`share`), per tenant. */
  private shared: ReadonlyMap<string, ReadonlyMap<string, Withheld>> = new Map();
  #revision = 0;
  private readonly logger: Logger;

  private readonly onChange: (tenants: readonly string[]) => void;
  private readonly onDrift: (tool: string, event: 'withheld' | 'restored') => void;

  private readonly packDigests: (tenant: string) => ReadonlyMap<string, string>;
  private readonly onWithheld: (tenant: string, tool: string, withheld: Withheld) => void;
  private readonly onRestored: (tenant: string, tool: string) => void;

  constructor(options: {
    approved: readonly ToolDefinition[];
    /** The pins of the pack tools a tenant enables (exposed name -> routerPin of the approved digest). */
    packDigests?: (tenant: string) => ReadonlyMap<string, string>;
    logger: Logger;
    /**
     * The tenants whose withheld tools changed. Only theirs: a withheld tool is always one tenant's
     * (its container presented it; shared tools run in the router and are never withheld), so a
     * change here concerns no other tenant, and their clients are not told (router/tools/pin-watcher.ts).
     */
    onChange?: (tenants: readonly string[]) => void;
    /** Each approved tool newly withheld or served again (the drift metric). */
    onDrift?: (tool: string, event: 'withheld' | 'restored') => void;
    /** A check of this router found the tool drifted (each check that still does, too). */
    onWithheld?: (tenant: string, tool: string, withheld: Withheld) => void;
    /** A check of this router found the approved definition of a tool it withheld. */
    onRestored?: (tenant: string, tool: string) => void;
  }) {
    this.onChange = options.onChange ?? (() => undefined);
    this.packDigests = options.packDigests ?? (() => new Map());
    this.onDrift = options.onDrift ?? (() => undefined);
    this.onWithheld = options.onWithheld ?? (() => undefined);
    this.onRestored = options.onRestored ?? (() => undefined);
    this.approved = new Map(
      options.approved.map((def) => [def.name, definitionDigest(asPresentedToRouter(wireTool(def)))]),
    );
    this.logger = options.logger;
  }

  check(tenant: string, presented: readonly PresentedTool[]): void {
    const byName = new Map(presented.map((tool) => [tool.name, asPresentedToRouter(tool)]));
    const current = this.withheld.get(tenant) ?? new Map<string, Withheld>();
    const before = [...current.keys()].sort().join(',');
    const approved = new Map([...this.approved, ...this.packDigests(tenant)]);
    for (const [name, expected] of approved) {
      const tool = byName.get(name);
      // By the pin's own scheme: a pack approved before every field was pinned is held to its fields.
      const actual =
        tool === undefined ? null : matchesPin(tool, expected) ? expected : definitionDigest(tool);
      if (actual === expected) {
        if (current.delete(name)) {
          this.logger.warn({ tenant, tool: name, event: 'tool_definition_restored' }, 'tool served again');
          this.onDrift(name, 'restored');
          this.onRestored(tenant, name);
        }
        continue;
      }
      const reason = actual === null ? 'missing' : 'definition_changed';
      const previous = current.get(name);
      if (!previous) this.onDrift(name, 'withheld');
      if (previous?.actual !== actual) {
        this.logger.error(
          { tenant, tool: name, event: 'tool_definition_drift', reason, expected, actual },
          'tenant runtime presents a tool definition that is not the approved one: tool withheld',
        );
      }
      const withheld: Withheld = { reason, expected, actual };
      current.set(name, withheld);
      this.onWithheld(tenant, name, withheld);
    }
    for (const name of byName.keys()) {
      if (!approved.has(name))
        this.logger.warn(
          { tenant, tool: name, event: 'tool_not_in_manifest' },
          'tenant runtime offers an unapproved tool (ignored)',
        );
    }
    if (current.size > 0) this.withheld.set(tenant, current);
    else this.withheld.delete(tenant);
    if ([...current.keys()].sort().join(',') !== before) {
      this.#revision += 1;
      this.onChange([tenant]);
    }
  }

  /**
   * What the other routers of the installation withhold now (router/tools/shared-withheld.ts), in
   * place of what they withheld before: each such tool is withheld here too, whatever this router's
   * own checks find, for as long as another router's checks keep finding it drifted.
   */
  share(others: ReadonlyMap<string, ReadonlyMap<string, Withheld>>): void {
    const changed = new Set<string>();
    for (const [tenant, tools] of others) {
      for (const [tool, withheld] of tools) {
        if (this.shared.get(tenant)?.has(tool)) continue;
        changed.add(tenant);
        this.logger.error(
          { tenant, tool, event: 'tool_definition_drift', source: 'another router', ...withheld },
          'another router found a tool definition that is not the approved one: tool withheld',
        );
      }
    }
    for (const [tenant, tools] of this.shared) {
      for (const tool of tools.keys()) {
        if (others.get(tenant)?.has(tool)) continue;
        changed.add(tenant);
        this.logger.warn(
          { tenant, tool, event: 'tool_definition_restored', source: 'another router' },
          'no other router withholds the tool any more',
        );
      }
    }
    this.shared = others;
    if (changed.size > 0) {
      this.#revision += 1;
      this.onChange([...changed]);
    }
  }

  /** Bumped whenever some tenant's withheld tools change (tool-surface.ts keeps lists until then). */
  get revision(): number {
    return this.#revision;
  }

  isWithheld(tenant: string, tool: string): boolean {
    return (this.withheld.get(tenant)?.has(tool) ?? false) || (this.shared.get(tenant)?.has(tool) ?? false);
  }
}
