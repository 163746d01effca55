// The naming rule for pack tools and prompts: pack P's tool T is served as T when T already starts
// with "P_", else as "P_T". Pack names contain no "_", so the text before the first "_" always
// names the pack: names from different packs never collide.
export const PACK_NAME_PATTERN = /^[a-z][a-z0-9-]{1,30}$/;

export function exposedName(pack: string, name: string): string {
  return name.startsWith(`${pack}_`) ? name : `${pack}_${name}`;
}

/** The pack an exposed name belongs to (the text before its first "_"), if any. */
export function packOfExposedName(name: string): string | undefined {
  const cut = name.indexOf('_');
  return cut > 0 ? name.slice(0, cut) : undefined;
}
