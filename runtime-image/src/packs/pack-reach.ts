// What of the packs' resources, templates and prompts one caller may reach: only those of the packs
// the router's signed call context names (the packs whose tools the caller may call;
// kernel/wire/call-assertion.ts). A tenant can grant a role one pack's tools and not another's;
// without this, a caller who may use any pack could read every pack's resources by URI. A context
// that names no packs reaches none. Listed resources and templates carry their pack in `_meta`
// (PACK_META_KEY), set here, over whatever the pack said, so that the router can check every item
// against the caller's packs again.
//
// Which pack a URI goes to. Prompts cannot be confused: their exposed names carry their pack
// (pack-naming.ts). URIs are served unchanged, and nothing the operator approved pins them (an
// approval pins tool definitions; resources and templates are what the pack lists when it starts),
// so any pack may list another's URI, or a template whose fixed prefix covers it ("n{x}" covers
// every notes:// URI). A URI is therefore sent only to the one pack of the tenant that claims it;
// a URI that two packs claim is sent to none (a conflict) instead of to the first in enabled.json
// order, so that a hostile pack can deny another pack's resources but never receive their reads or
// answer them. A most-specific-match rule would not do: a hostile pack can always declare a longer
// prefix or list the exact URI. Claims are counted over every pack of the tenant, not only the
// caller's: a caller who reaches the hostile pack alone must not have it answer for the other.
// Claims are read from live listings: a pack that has not listed yet (it failed to start) claims
// nothing, and only pinning resources and templates at approval would close that gap.
import type { Prompt } from '@modelcontextprotocol/client';
import { exposedName, PACK_META_KEY } from '../../../kernel/packs/pack-naming.ts';
import type { PackListing, PackProcess } from './pack-process.ts';

type Listed = { _meta?: Record<string, unknown> | undefined };

function marked<T extends Listed>(item: T, pack: string): T {
  return { ...item, _meta: { ...item._meta, [PACK_META_KEY]: pack } };
}

/** Whether a pack's listing claims `uri`: lists it, or has a template whose fixed prefix it starts with. */
function claims(listing: PackListing, uri: string): boolean {
  return (
    listing.resources.some((r) => r.uri === uri) ||
    listing.templates.some((t) => {
      const prefix = t.uriTemplate.split('{')[0]!;
      return prefix.length > 0 && uri.startsWith(prefix);
    })
  );
}

/** More than one pack claims what a caller named: `packs` all of them, `reachable` the caller's. */
export interface ClaimConflict {
  conflict: { packs: string[]; reachable: string[] };
}

/** Where a URI or template goes: its one pack, a conflict, or nowhere this caller reaches. */
export type Route = PackProcess | ClaimConflict | undefined;

export class PackReach {
  private readonly all: readonly PackProcess[];
  private readonly packs: readonly PackProcess[];

  constructor(all: readonly PackProcess[], reachable: readonly string[] | undefined) {
    const names = new Set(reachable ?? []);
    this.all = all;
    this.packs = all.filter((p) => names.has(p.name));
  }

  resources() {
    return this.packs.flatMap((p) => p.listing.resources.map((r) => marked(r, p.name)));
  }

  templates() {
    return this.packs.flatMap((p) => p.listing.templates.map((t) => marked(t, p.name)));
  }

  prompts(): Prompt[] {
    return this.packs.flatMap((p) =>
      p.listing.prompts.map((prompt) => ({ ...prompt, name: exposedName(p.name, prompt.name) })),
    );
  }

  promptOwner(exposed: string): { process: PackProcess; name: string } | undefined {
    for (const process of this.packs) {
      const prompt = process.listing.prompts.find((p) => exposedName(process.name, p.name) === exposed);
      if (prompt) return { process, name: prompt.name };
    }
    return undefined;
  }

  /** The one pack that claims `uri` (lists it, or a template's fixed prefix covers it). */
  resourceOwner(uri: string): Route {
    return this.route(this.all.filter((p) => claims(p.listing, uri)));
  }

  /** The one pack that lists `uriTemplate` (completion for a template). */
  templateOwner(uriTemplate: string): Route {
    return this.route(this.all.filter((p) => p.listing.templates.some((t) => t.uriTemplate === uriTemplate)));
  }

  /**
   * Whether a pack other than `owner` claims `uri`: an answer of `owner` that carries such a URI
   * would pass off its content as another pack's resource.
   */
  claimedByAnother(uri: string, owner: PackProcess): boolean {
    return this.all.some((p) => p !== owner && claims(p.listing, uri));
  }

  /**
   * A caller who reaches none of the claimants learns nothing (as for a URI no pack claims): which
   * packs another caller reaches is not its business.
   */
  private route(claimants: PackProcess[]): Route {
    const reachable = claimants.filter((p) => this.packs.includes(p));
    if (reachable.length === 0) return undefined;
    if (claimants.length === 1) return claimants[0];
    return {
      conflict: { packs: claimants.map((p) => p.name), reachable: reachable.map((p) => p.name) },
    };
  }
}
