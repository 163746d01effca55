// The scopes this router can authorize, as it advertises them: `scopes_supported` in its protected
// resource metadata (RFC 9728) and the `scope` of its 401 challenges (RFC 6750 section 3). They are
// the built-in tools' scopes, those of the operator's shared tools, and every scope of every
// approved pack tool (router/tools/pack-catalog.ts, refreshed on the pin watcher's loop), so a stock
// MCP client, which registers and asks for the scopes a resource names, gets a token for pack tools.
//
// Before a token the router knows neither the tenant nor the tool, so the 401 challenge names all of
// them; the least-privilege answer is per call: a tool the token lacks the scope of is answered 403
// insufficient_scope naming exactly that tool's scope (router/request/step-up.ts).
//
// Deterministic (the router's own scopes first, then the packs' sorted by name), deduplicated and
// bounded: every replica reading the same registry advertises the same list, and the challenge
// header stays small. A pack names at most MAX_PACK_SCOPES (kernel/packs/pack-manifest.ts); past
// MAX_ADVERTISED_SCOPES the scopes of the newest approvals are left out and logged (their tools
// still work for a token that carries them).
import type { Logger } from 'pino';

export const MAX_ADVERTISED_SCOPES = 64;

/** The approved pack tools' scopes, oldest approval first (router/tools/pack-catalog.ts). */
export interface PackScopeSource {
  /** The same array until they change. */
  scopes(): readonly string[];
}

export class AdvertisedScopes {
  private readonly own: readonly string[];
  private readonly packs: PackScopeSource | undefined;
  private readonly logger: Logger | undefined;
  private seen: readonly string[] | undefined;
  private current: readonly string[];

  constructor(options: {
    /** The router's own: the built-in tools' and the shared tools' scopes, in this order. */
    own: readonly string[];
    packs?: PackScopeSource;
    logger?: Logger;
  }) {
    this.own = [...new Set(options.own)].slice(0, MAX_ADVERTISED_SCOPES);
    this.packs = options.packs;
    this.logger = options.logger;
    this.current = this.own;
  }

  /** The advertised scopes now; recomputed only when the approved packs' scopes changed. */
  list(): readonly string[] {
    const packScopes = this.packs?.scopes() ?? [];
    if (packScopes === this.seen) return this.current;
    this.seen = packScopes;
    const own = new Set(this.own);
    const extra = packScopes.filter((scope) => !own.has(scope));
    const room = MAX_ADVERTISED_SCOPES - this.own.length;
    const left = extra.slice(room);
    if (left.length > 0)
      this.logger?.warn(
        { advertised: MAX_ADVERTISED_SCOPES, left },
        'approved packs name more scopes than the router advertises; the newest approvals are left out',
      );
    this.current = [...this.own, ...extra.slice(0, room).sort()];
    return this.current;
  }
}
