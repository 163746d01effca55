// Rug-pull protection (docs/architecture.md, "Trust boundaries"): the router pins the digest of
// every approved tenant tool definition and compares what each tenant container presents, when a
// route to it is established and periodically after. A tool whose definition drifted, or that went
// missing, is withheld for that tenant (not listed, not called) and the event is logged; a later
// check that matches again (for example after the container was recycled) serves it again.
import type { Logger } from 'pino';
import { definitionDigest, wireTool, type ToolDefinition } from '../../kernel/tools/tool-definition.ts';

export interface PresentedTool {
  name: string;
  description?: string | undefined;
  inputSchema: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

export interface ToolGuard {
  check(tenant: string, presented: readonly PresentedTool[]): void;
  isWithheld(tenant: string, tool: string): boolean;
  /** Changes whenever a tool is withheld or served again; a guard without it is asked every time. */
  readonly revision?: number;
}

interface Withheld {
  reason: 'definition_changed' | 'missing';
  expected: string;
  actual: string | null;
}

export class DriftGuard implements ToolGuard {
  private readonly approved: Map<string, string>;
  private readonly withheld = new Map<string, Map<string, Withheld>>();
  #revision = 0;
  private readonly logger: Logger;

  private readonly onChange: () => void;
  private readonly onDrift: (tool: string, event: 'withheld' | 'restored') => void;

  private readonly packDigests: (tenant: string) => ReadonlyMap<string, string>;

  constructor(options: {
    approved: readonly ToolDefinition[];
    /** The approved digests of the pack tools a tenant enables (exposed name -> digest). */
    packDigests?: (tenant: string) => ReadonlyMap<string, string>;
    logger: Logger;
    onChange?: () => void;
    /** Each approved tool newly withheld or served again (the drift metric). */
    onDrift?: (tool: string, event: 'withheld' | 'restored') => void;
  }) {
    this.onChange = options.onChange ?? (() => undefined);
    this.packDigests = options.packDigests ?? (() => new Map());
    this.onDrift = options.onDrift ?? (() => undefined);
    this.approved = new Map(options.approved.map((def) => [def.name, definitionDigest(wireTool(def))]));
    this.logger = options.logger;
  }

  check(tenant: string, presented: readonly PresentedTool[]): void {
    const byName = new Map(presented.map((tool) => [tool.name, definitionDigest(tool)]));
    const current = this.withheld.get(tenant) ?? new Map<string, Withheld>();
    const before = [...current.keys()].sort().join(',');
    const approved = new Map([...this.approved, ...this.packDigests(tenant)]);
    for (const [name, expected] of approved) {
      const actual = byName.get(name) ?? null;
      if (actual === expected) {
        if (current.delete(name)) {
          this.logger.warn({ tenant, tool: name, event: 'tool_definition_restored' }, 'tool served again');
          this.onDrift(name, 'restored');
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
      current.set(name, { reason, expected, actual });
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
      this.onChange();
    }
  }

  /** Bumped whenever some tenant's withheld tools change (tool-surface.ts keeps lists until then). */
  get revision(): number {
    return this.#revision;
  }

  isWithheld(tenant: string, tool: string): boolean {
    return this.withheld.get(tenant)?.has(tool) ?? false;
  }
}
