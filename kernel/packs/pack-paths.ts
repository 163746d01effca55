// Where packs live, as plain constants without zod: the tenant runtime's image entry reads them
// before it loads the runtime's bundle (runtime-image/src/packs/reference-prestart.ts), where
// importing a schema module would pull zod into that small bundle. Re-exported by enabled-packs.ts
// and pack-manifest.ts, their usual home.
export const PACKS_DIR = '/opt/bulkhead/packs';
export const ENABLED_PACKS_FILE = 'enabled.json';
export const PACK_SECRETS_FILE = '/run/mcp/.secrets.json';
/** Where each pack's own work directory lives on the tenant's volume: /data/packs/<name>. */
export const PACK_WORK_SUBDIR = 'packs';
export const PACK_MANIFEST_FILE = 'bulkhead-pack.json';

/**
 * The reference pack: the records tools, shipped in the runtime image and enabled for every tenant
 * (docs/pack-runtime.md). Its name is reserved, so no operator pack can shadow it.
 */
export const REFERENCE_PACK = 'records';
