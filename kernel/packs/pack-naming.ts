// The naming rule: the name a client sees for pack P's tool (or prompt) T is T when T already starts
// with "P_", else "P_T". Pack names contain no "_" (pack-manifest.ts), so the text before the first
// "_" of an exposed name is always its pack: names of different packs never collide, and a router
// or runtime can tell the pack of any exposed name without a table.
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { PackNameSchema } from './pack-manifest.ts';

/**
 * The `_meta` key naming the pack a listed resource or template comes from: set by the runtime
 * (runtime-image/src/packs/pack-reach.ts), checked by the router against the caller's packs.
 */
export const PACK_META_KEY = 'io.bulkhead/pack';

/** The shape of a pack name (pack-manifest.ts's PackNameSchema also refuses built-in words). */
export const PACK_NAME_PATTERN = /^[a-z][a-z0-9-]{1,30}$/;

export function exposedName(pack: string, tool: string): string {
  PackNameSchema.parse(pack);
  return tool.startsWith(`${pack}_`) ? tool : `${pack}_${tool}`;
}

/** The pack an exposed name belongs to: the text before its first "_" (undefined without one). */
export function packOfExposed(exposed: string): string | undefined {
  const at = exposed.indexOf('_');
  return at > 0 ? exposed.slice(0, at) : undefined;
}
export { packOfExposed as packOfExposedName };

/**
 * The exposed name of each of one pack's tools; two of its own tools that would be seen under one
 * name (for example "read" and "files_read" in pack "files") are refused.
 */
export function exposedNames(pack: string, tools: readonly string[]): Map<string, string> {
  const byExposed = new Map<string, string>();
  for (const tool of tools) {
    const exposed = exposedName(pack, tool);
    const other = byExposed.get(exposed);
    if (other !== undefined)
      throw new BulkheadError(
        'invalid_input',
        `pack ${pack}: tools "${other}" and "${tool}" would both be seen as "${exposed}"`,
      );
    byExposed.set(exposed, tool);
  }
  return new Map([...byExposed].map(([exposed, tool]) => [tool, exposed]));
}
