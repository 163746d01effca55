// An approval: what the operator saw a pack version present in the sandbox (its tools, resources and
// prompts) together with the manifest's statements, fixed with who approved it and when. The router
// serves a pack tool only from an approval; the digest pins the exposed wire definition the tenant
// runtime must present (the drift guard compares it).
import { z } from 'zod';
import {
  annotationsFor,
  canonicalJson,
  definitionDigest,
  IDEMPOTENCY_KEY_FIELD,
  IdempotencyKeySchema,
  type ToolDefinition,
  type WireTool,
} from '../tools/tool-definition.ts';
import {
  PackEffectSchema,
  PackIdempotencySchema,
  PackManifestSchema,
  PackNameSchema,
  PackVersionSchema,
  type PackManifest,
} from './pack-manifest.ts';
import { packSchemaToZod } from './pack-schema.ts';

const JsonObject = z.record(z.string(), z.unknown());

/** A definition as a client would read it: the pack's own, under its exposed name. */
export const PresentedDefinitionSchema = z.looseObject({
  name: z.string().min(1).max(128),
  title: z.string().optional(),
  description: z.string().optional(),
  inputSchema: JsonObject,
  outputSchema: JsonObject.optional(),
  annotations: JsonObject.optional(),
});
export type PresentedDefinition = z.infer<typeof PresentedDefinitionSchema>;

export const ApprovedToolSchema = z.strictObject({
  /** The name the pack lists. */
  name: z.string(),
  exposed: z.string(),
  effect: PackEffectSchema,
  scope: z.string().nullable(),
  blastRadius: z.string().optional(),
  /** The exposed wire definition as the pack presented it (renamed, nothing else changed). */
  definition: PresentedDefinitionSchema,
  /** definitionDigest(definition): what the tenant runtime must present. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ApprovedTool = z.infer<typeof ApprovedToolSchema>;

export const PackApprovalSchema = z.strictObject({
  name: PackNameSchema,
  version: PackVersionSchema,
  /** The image the sandbox ran (its id pins the exact files approved). */
  image: z.strictObject({ ref: z.string(), id: z.string() }),
  manifest: PackManifestSchema,
  idempotency: PackIdempotencySchema,
  tools: z.array(ApprovedToolSchema),
  resources: z.array(JsonObject),
  resourceTemplates: z.array(JsonObject),
  /** Prompts under their exposed names (renamed like tools). */
  prompts: z.array(JsonObject),
  approvedBy: z.string(),
  approvedAt: z.iso.datetime(),
});
export type PackApproval = z.infer<typeof PackApprovalSchema>;

/** What the sandbox saw a pack list (each item as the pack sent it). */
export interface PackListing {
  tools: Record<string, unknown>[];
  resources: Record<string, unknown>[];
  resourceTemplates: Record<string, unknown>[];
  prompts: Record<string, unknown>[];
}

export { type PackManifest };

/**
 * The client-facing input schema of a pack tool: the pack's own, plus the idempotency key every
 * write requires (the runtime strips it before the pack sees the arguments).
 */
export function packInputSchema(tool: ApprovedTool): Record<string, unknown> {
  const schema = tool.definition.inputSchema;
  if (tool.effect === 'read') return schema;
  const properties = (schema.properties ?? {}) as Record<string, unknown>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  return {
    ...schema,
    properties: { ...properties, [IDEMPOTENCY_KEY_FIELD]: z.toJSONSchema(IdempotencyKeySchema) },
    required: [...required.filter((r) => r !== IDEMPOTENCY_KEY_FIELD), IDEMPOTENCY_KEY_FIELD],
  };
}

/**
 * What the router enforces for a pack write: the idempotency key, checked on its own, and the pack's
 * own schema over the other arguments, as the pack gets them (the runtime strips the key). Not
 * packInputSchema, which merges the key into the pack's schema for clients to read: zod reads no
 * keyword beside a root `$ref`, so for a schema of that shape the merged one required no key (every
 * keyless write of the tool then shared the key "undefined") and refused every call that had one.
 */
function packWriteSchema(own: z.ZodType): z.ZodType {
  return z.looseObject({ [IDEMPOTENCY_KEY_FIELD]: IdempotencyKeySchema }).transform((args, ctx) => {
    const { [IDEMPOTENCY_KEY_FIELD]: key, ...rest } = args;
    const parsed = own.safeParse(rest);
    if (parsed.success) return { ...(parsed.data as object), [IDEMPOTENCY_KEY_FIELD]: key };
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  });
}

/**
 * The router's definition of one approved pack tool: validated with zod's JSON Schema support, its
 * patterns in linear time (pack-schema.ts); throws for a schema that cannot be enforced so.
 */
export function packToolDefinition(approval: PackApproval, tool: ApprovedTool): ToolDefinition {
  const def: ToolDefinition = {
    name: tool.exposed,
    version: approval.version,
    kind: 'tenant',
    title: tool.definition.title ?? tool.exposed,
    description: tool.definition.description ?? '',
    inputSchema:
      tool.effect === 'read'
        ? packSchemaToZod(tool.definition.inputSchema)
        : packWriteSchema(packSchemaToZod(tool.definition.inputSchema)),
    outputSchema: tool.definition.outputSchema ? packSchemaToZod(tool.definition.outputSchema) : z.unknown(),
    scope: tool.scope,
    effect: tool.effect,
    writes: tool.effect !== 'read',
    ...(tool.blastRadius ? { blastRadius: tool.blastRadius } : {}),
    semantic: [],
    maxPayloadBytes: 256 * 1024,
    pack: {
      name: approval.name,
      version: approval.version,
      idempotency: approval.idempotency,
      digest: tool.digest,
    },
  };
  // The pack's own definition (an absent outputSchema stays absent), with the key and the
  // annotations derived from the approved effect, like every other tool's.
  def.wire = {
    ...tool.definition,
    title: def.title,
    description: def.description,
    inputSchema: packInputSchema(tool),
    annotations: annotationsFor(def),
  } as WireTool;
  return def;
}

/** Every approved tool of an approval as router definitions. */
export function packToolDefinitions(approval: PackApproval): ToolDefinition[] {
  return approval.tools.map((tool) => packToolDefinition(approval, tool));
}

/** The approved digest check a sandbox listing and a runtime presentation share. */
export function presentedDigest(definition: PresentedDefinition): string {
  return definitionDigest(definition);
}

/** The fields of a prompt an approval pins: what a client reads of it before it gets the prompt. */
const PINNED_PROMPT_FIELDS = ['name', 'title', 'description', 'arguments'] as const;

/** Whether a prompt a runtime lists is the approved one: the same name, title, description and arguments. */
export function isApprovedPrompt(
  listed: Record<string, unknown>,
  approved: Record<string, unknown>,
): boolean {
  return PINNED_PROMPT_FIELDS.every(
    (field) => canonicalJson(listed[field]) === canonicalJson(approved[field]),
  );
}
