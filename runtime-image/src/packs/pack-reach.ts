// What of the packs' resources, templates and prompts one caller may reach: only those of the packs
// the router's signed call context names (the packs whose tools the caller may call;
// kernel/wire/call-assertion.ts). A tenant can grant a role one pack's tools and not another's;
// without this, a caller who may use any pack could read every pack's resources by URI. A context
// that names no packs reaches none. Listed resources and templates carry their pack in `_meta`
// (PACK_META_KEY), set here, over whatever the pack said, so that the router can check every item
// against the caller's packs again.
import type { Prompt } from '@modelcontextprotocol/client';
import { exposedName, PACK_META_KEY } from '../../../kernel/packs/pack-naming.ts';
import type { PackProcess } from './pack-process.ts';

type Listed = { _meta?: Record<string, unknown> | undefined };

function marked<T extends Listed>(item: T, pack: string): T {
  return { ...item, _meta: { ...item._meta, [PACK_META_KEY]: pack } };
}

export class PackReach {
  private readonly packs: readonly PackProcess[];

  constructor(all: readonly PackProcess[], reachable: readonly string[] | undefined) {
    const names = new Set(reachable ?? []);
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

  /** The pack that listed a resource, else the one whose template's fixed prefix the URI starts with. */
  resourceOwner(uri: string): PackProcess | undefined {
    return (
      this.packs.find((p) => p.listing.resources.some((r) => r.uri === uri)) ??
      this.packs.find((p) =>
        p.listing.templates.some((t) => {
          const prefix = t.uriTemplate.split('{')[0]!;
          return prefix.length > 0 && uri.startsWith(prefix);
        }),
      )
    );
  }

  templateOwner(uriTemplate: string): PackProcess | undefined {
    return this.packs.find((p) => p.listing.templates.some((t) => t.uriTemplate === uriTemplate));
  }
}
