// What the tenant runtime reads at start: the packs enabled for this tenant's image
// (/opt/bulkhead/packs/enabled.json, composed outside the container) and the secrets the supervisor
// delivers for them (/run/mcp/.secrets.json). Only the tools listed here are served, and only while
// the live definition's digest equals the approved one.
import { z } from 'zod';
import { PACK_NAME_PATTERN } from './pack-naming.ts';

export { ENABLED_PACKS_FILE, PACK_SECRETS_FILE, PACK_WORK_SUBDIR, PACKS_DIR } from './pack-paths.ts';

/** `runtime`: the runtime's key table gives at-most-once + replay; `pack`: the pack honours the key too. */
export const PACK_IDEMPOTENCY = ['runtime', 'pack'] as const;
export type PackIdempotency = (typeof PACK_IDEMPOTENCY)[number];

export const EnabledPackToolSchema = z.strictObject({
  /** The pack's own tool name. */
  name: z.string().min(1).max(128),
  /** The client-visible name (kernel/packs/pack-naming.ts). */
  exposed: z.string().min(1).max(128),
  effect: z.enum(['read', 'create', 'update', 'delete']),
  /** definitionDigest of the exposed wire definition approved by the operator. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
});
export type EnabledPackTool = z.infer<typeof EnabledPackToolSchema>;

export const EnabledPackSchema = z.strictObject({
  name: z.string().regex(PACK_NAME_PATTERN),
  version: z.string().regex(/^[0-9A-Za-z.+-]{1,32}$/),
  command: z.array(z.string().min(1)).min(1),
  secrets: z.array(z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/)).default([]),
  idempotency: z.enum(PACK_IDEMPOTENCY).default('runtime'),
  tools: z.array(EnabledPackToolSchema),
});
export type EnabledPack = z.infer<typeof EnabledPackSchema>;

export const EnabledPacksSchema = z.strictObject({ packs: z.array(EnabledPackSchema) });
export type EnabledPacks = z.infer<typeof EnabledPacksSchema>;

/** { "<pack>": { "NAME": "value" } }, written by the supervisor, read once and unlinked. */
export const PackSecretsSchema = z.record(z.string(), z.record(z.string(), z.string()));
export type PackSecrets = z.infer<typeof PackSecretsSchema>;
