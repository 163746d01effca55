// A tool pack: an MCP server the operator supplies (any language, speaking MCP over stdio) and its
// manifest, bulkhead-pack.json at the root of its directory. The manifest carries the operator's
// statements the pack itself cannot make: what each tool does to data (effect), which scopes may
// call it and, for every write, its blast radius. The approval (kernel/registry/pack-registry.ts)
// holds the definitions the pack presented; enabled.json (enabled-packs.ts) tells the runtime which
// of them to serve.
import { z } from 'zod';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { MANIFEST } from './manifest.ts';
import { REFERENCE_PACK } from './pack-paths.ts';

export { PACK_MANIFEST_FILE, REFERENCE_PACK } from './pack-paths.ts';

/**
 * What a pack's MCP client declares, in the tenant runtime and in the approval sandbox alike: a
 * server may list tools only to clients that can answer sampling or elicitation, and the listing
 * the operator approves must be the one the runtime will see.
 */
export const PACK_CLIENT_CAPABILITIES = { sampling: {}, elicitation: {} };

/** The first word of each built-in tool ("records", "docs", ...): no pack may take it. */
const RESERVED = new Set(MANIFEST.map((tool) => tool.name.split('_')[0]));

/**
 * A pack name's shape, what names a pack elsewhere (a tenant's egress rules) takes. No "_": the text
 * before a client-visible name's first "_" is always the pack (pack-naming.ts).
 */
export const PackNameShapeSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{1,30}$/,
    'a pack name is 2-31 characters of a-z, 0-9 and "-", starting with a letter',
  );
/** The name a pack takes: not a built-in tool's first word. */
export const PackNameSchema = PackNameShapeSchema.refine(
  (name) => !RESERVED.has(name),
  'this pack name would collide with built-in tools',
);
export const PackVersionSchema = z
  .string()
  // The image tag's own grammar, `+` aside (packImage): a tag starts with a letter, digit or `_`.
  .regex(
    /^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$/,
    'a pack version is 1-32 characters of 0-9, A-Z, a-z, ".", "+" and "-", starting with a letter or digit',
  );
/** Environment-variable names, like a tenant's secret names (kernel/tenant/tenant-spec.ts). */
export const PackSecretNameSchema = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/);
export const PackEffectSchema = z.enum(['read', 'create', 'update', 'delete']);
/** "runtime": at-most-once and replay from the runtime's key table; "pack": the pack honours the key too. */
export const PackIdempotencySchema = z.enum(['runtime', 'pack']);
/**
 * A tool name as MCP allows it (SEP-986), bounded. Not `__proto__`: as a key of the manifest's
 * `tools` it would be dropped by the parse (zod skips it, as assigning it would replace the object's
 * prototype), so the tool could never have a statement.
 */
export const PackToolNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a tool name is 1-64 characters of A-Z, a-z, 0-9, "_", "." and "-"')
  .refine((name) => name !== '__proto__', '"__proto__" cannot be a pack tool\'s name: rename the tool');

/**
 * An OAuth scope a pack tool needs, `<area>:<action>` (`notes:read`): always with a ":", so that no
 * pack scope can be a name an OpenID provider gives a meaning of its own (`openid`, `offline_access`).
 */
export const PackScopeSchema = z
  .string()
  .regex(/^[a-z][a-z0-9:._-]{0,63}$/, 'a scope is 1-64 characters of a-z, 0-9, ":", ".", "_" and "-"')
  .refine((scope) => scope.includes(':'), 'a pack scope has the form <area>:<action>, e.g. notes:read');
/**
 * Distinct scopes one pack may name: the router advertises every approved pack's scopes (its
 * resource metadata and challenges, router/tools/pack-catalog.ts), so one pack cannot flood them.
 */
export const MAX_PACK_SCOPES = 8;

export const PackToolStatementSchema = z
  .strictObject({
    effect: PackEffectSchema,
    // At most one: the router checks one scope per tool (ToolDefinition.scope); none: any token.
    scopes: z.array(PackScopeSchema).max(1).default([]),
    blastRadius: z.string().min(10).max(1000).optional(),
  })
  .refine((s) => s.effect === 'read' || s.blastRadius !== undefined, {
    message: 'a write (effect other than read) needs a blastRadius statement',
    path: ['blastRadius'],
  });
export type PackToolStatement = z.infer<typeof PackToolStatementSchema>;

export const PackManifestSchema = z.strictObject({
  name: PackNameSchema,
  version: PackVersionSchema,
  /** argv, run in the pack's work dir (/data/packs/<name>/); relative paths are the pack's files. */
  command: z.array(z.string().min(1).max(4096)).min(1).max(64),
  secrets: z.array(PackSecretNameSchema).max(32).default([]),
  idempotency: PackIdempotencySchema.default('runtime'),
  tools: z
    .unknown()
    // Before the record's parse, which would drop a "__proto__" statement without a word.
    .refine((tools) => typeof tools !== 'object' || tools === null || !Object.hasOwn(tools, '__proto__'), {
      message: '"__proto__" cannot be a pack tool\'s name: rename the tool',
      abort: true,
    })
    .pipe(z.record(PackToolNameSchema, PackToolStatementSchema))
    .refine(
      (tools) => new Set(Object.values(tools).flatMap((s) => s.scopes)).size <= MAX_PACK_SCOPES,
      `a pack names at most ${MAX_PACK_SCOPES} distinct scopes`,
    ),
});
export type PackManifest = z.infer<typeof PackManifestSchema>;

/** The reference pack's manifest: the pack format, under the one reserved name it may carry. */
export const ReferencePackManifestSchema = PackManifestSchema.safeExtend({ name: z.literal(REFERENCE_PACK) });

/** `name@version` as the CLI and the tenant record write a pin. */
export const PackPinSchema = z.strictObject({ name: PackNameSchema, version: PackVersionSchema });
export type PackPin = z.infer<typeof PackPinSchema>;

export function parsePackPin(text: string): PackPin {
  const at = text.lastIndexOf('@');
  return PackPinSchema.parse({
    name: at < 0 ? text : text.slice(0, at),
    version: at < 0 ? '' : text.slice(at + 1),
  });
}

/**
 * The image `bulkhead pack build` makes for a pack version. A tag may not hold `+` (semver's build
 * metadata, `1.0.0+build.7`): it becomes `_`, which a version may not hold, so no two versions share a tag.
 */
export function packImage(pin: PackPin): string {
  return `bulkhead/pack-${pin.name}:${pin.version.replaceAll('+', '_')}`;
}

/** A pack refused (its manifest, directory, dependencies or image): the one error of every such refusal. */
export function packRejected(message: string, cause?: unknown): BulkheadError<'pack_rejected'> {
  return new BulkheadError('pack_rejected', message, cause === undefined ? {} : { cause });
}
