// Shared read-only tools: served in-process, tenant-agnostic, never touching tenant data. Each is a
// module (definition + handler); the built-ins are registered here, and operators add their own by
// listing module files in BULKHEAD_SHARED_TOOL_MODULES (each default-exports one module or an
// array), without forking Bulkhead. Loaded modules must be shared read-only tools.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SHARED_TOOLS } from '../../kernel/packs/manifest.ts';
import { upstreamsProblem } from '../../kernel/tools/tool-definition.ts';
import { createDocsSearch } from './shared/docs-search.ts';
import { quotaStatus } from './shared/quota-status.ts';
import type { SharedToolHandler, SharedToolModule } from './shared/shared-tool.ts';
import { whoami } from './shared/whoami.ts';

export type { SharedToolContext, SharedToolHandler, SharedToolModule } from './shared/shared-tool.ts';

function builtIn(name: string, handler: SharedToolHandler): SharedToolModule {
  const definition = SHARED_TOOLS.find((def) => def.name === name);
  if (!definition) throw new Error(`shared tool ${name} is not in the manifest`);
  return { definition, handler };
}

export function builtInSharedTools(options: { docsDir: string }): SharedToolModule[] {
  return [
    builtIn('whoami', whoami),
    builtIn('quota_status', quotaStatus),
    builtIn('docs_search', createDocsSearch(options.docsDir)),
  ];
}

const NAME = /^[a-z][a-z0-9_]{1,63}$/;

function assertModule(value: unknown, source: string): SharedToolModule {
  const candidate = value as Partial<SharedToolModule> | undefined;
  const def = candidate?.definition;
  if (!def || typeof candidate.handler !== 'function') throw new Error(`${source}: not a shared tool module`);
  if (!NAME.test(def.name)) throw new Error(`${source}: invalid tool name ${def.name}`);
  if (def.kind !== 'shared' || def.effect !== 'read' || def.writes)
    throw new Error(`${source}: ${def.name} must be a shared read-only tool`);
  const upstreams = upstreamsProblem(def);
  if (upstreams) throw new Error(`${source}: ${upstreams}`);
  if (typeof def.inputSchema?.safeParse !== 'function' || !Array.isArray(def.semantic))
    throw new Error(`${source}: ${def.name} needs a zod inputSchema and a semantic rule list`);
  return candidate as SharedToolModule;
}

/** Loads operator modules; fails loudly (at startup) on a bad module or a duplicate name. */
export async function loadSharedTools(options: {
  builtIns: SharedToolModule[];
  modulePaths: readonly string[];
}): Promise<SharedToolModule[]> {
  const all = [...options.builtIns];
  for (const path of options.modulePaths) {
    const loaded = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
    const exported = Array.isArray(loaded.default) ? loaded.default : [loaded.default];
    for (const value of exported) {
      const module = assertModule(value, path);
      if (all.some((m) => m.definition.name === module.definition.name))
        throw new Error(`${path}: shared tool ${module.definition.name} is already registered`);
      all.push(module);
    }
  }
  return all;
}
