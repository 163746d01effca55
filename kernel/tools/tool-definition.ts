// What one approved tool is, and everything derived from it: MCP annotations (from the kind and
// effect, never written by hand), the wire definition a client sees, the idempotency key the router
// adds to every write, and the digests the router uses to pin definitions (rug-pull protection)
// and to compare the arguments of a replayed write.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { CodeOfClass } from '../errors/error-codes.ts';

export type ToolKind = 'shared' | 'tenant';
/** `read`: no side effect. `create`: adds data. `update`/`delete`: changes or removes existing data. */
export type ToolEffect = 'read' | 'create' | 'update' | 'delete';

/** A problem found by a semantic validator: the JSON path of the argument and a stable code. */
export interface SemanticIssue {
  path: string;
  /** A validation code from the table (kernel/errors/error-codes.ts). */
  code: CodeOfClass<'validation'>;
  message: string;
}
export type SemanticValidator = (args: Record<string, unknown>) => SemanticIssue[];

export interface ToolDefinition<Input extends z.ZodType = z.ZodType> {
  name: string;
  version: string;
  /** `shared`: in-process in the router, tenant-agnostic. `tenant`: runs in the tenant's container. */
  kind: ToolKind;
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema: z.ZodType;
  /** OAuth scope the agent's token must carry; null when any valid token may call it. */
  scope: string | null;
  effect: ToolEffect;
  /** Derived from `effect` (kept for the registry's default roles). */
  writes: boolean;
  /** For every write: what the tool can change and how to undo it (shown in docs/tools.md). */
  blastRadius?: string;
  /** Rules JSON Schema cannot say (date order, ranges, safe path segments), run after the schema. */
  semantic: readonly SemanticValidator[];
  /** Upper bound of the serialized arguments, checked before anything else. */
  maxPayloadBytes: number;
  /** Calls per minute per tenant for an expensive tool (a tenant's quotas may override it); none when absent. */
  callsPerMinute?: number;
  /**
   * Downstream APIs a call of this tool uses (at most MAX_TOOL_UPSTREAMS): each call is also taken
   * from each one's budget, which every tenant shares (kernel/ratelimit/upstream-budgets.ts).
   */
  upstreams?: readonly string[];
  deprecated?: { message: string; replacedBy?: string };
  /**
   * A tool of an approved pack (kernel/packs/pack-approval.ts): its schema already carries the
   * idempotency key of a write, and `digest` pins what the tenant runtime must present.
   */
  pack?: { name: string; version: string; idempotency: 'runtime' | 'pack'; digest: string };
  /** The client-facing definition when it is not derived from zod schemas (a pack's own JSON Schema). */
  wire?: WireTool;
}

/** An upstream's name: what operators set a budget for and a tool definition names. */
export const UPSTREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Upstreams one call may be charged to: the Lua decision has this many upstream slots. */
export const MAX_TOOL_UPSTREAMS = 3;

/** Why a definition's `upstreams` cannot be used, or undefined when they can. */
export function upstreamsProblem(def: Pick<ToolDefinition, 'name' | 'upstreams'>): string | undefined {
  const names = def.upstreams ?? [];
  if (names.length > MAX_TOOL_UPSTREAMS)
    return `${def.name} names ${names.length} upstreams; at most ${MAX_TOOL_UPSTREAMS}`;
  const bad = names.find((name) => !UPSTREAM_NAME.test(name));
  if (bad !== undefined) return `${def.name} names an invalid upstream "${bad}" (${UPSTREAM_NAME.source})`;
  if (new Set(names).size !== names.length) return `${def.name} names an upstream twice`;
  return undefined;
}

export interface ToolAnnotations {
  title: string;
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export function annotationsFor(def: ToolDefinition): ToolAnnotations {
  return {
    title: def.title,
    readOnlyHint: def.effect === 'read',
    // An update overwrites what was there; a delete removes it. A create only adds.
    destructiveHint: def.effect === 'update' || def.effect === 'delete',
    // Reads have no effect; every write requires an idempotency key, so a repeat has no new effect.
    idempotentHint: true,
    openWorldHint: false,
  };
}

export const IDEMPOTENCY_KEY_FIELD = 'idempotency_key';
export const IdempotencyKeySchema = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/)
  .describe('Unique per intended write; a retry with the same key returns the first result.');

/** The schema the router enforces: a write tool's own schema plus the required idempotency key. */
export function effectiveInputSchema(def: ToolDefinition): z.ZodType {
  if (!def.writes || def.pack) return def.inputSchema;
  const base = def.inputSchema as unknown as z.ZodObject;
  return base.extend({ [IDEMPOTENCY_KEY_FIELD]: IdempotencyKeySchema }).strict();
}

export interface WireTool {
  [key: string]: unknown;
  name: string;
  title: string;
  description: string;
  inputSchema: { type: 'object'; [key: string]: unknown };
  outputSchema: { type: 'object'; [key: string]: unknown };
  annotations: ToolAnnotations;
}

/** Every object schema states its required fields, even when none are: nothing is implicit. */
function explicitRequired(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(explicitRequired);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(
    Object.entries(schema as Record<string, unknown>).map(([k, v]) => [k, explicitRequired(v)]),
  );
  if (out.type === 'object' && out.properties !== undefined && out.required === undefined) out.required = [];
  return out;
}

export function wireTool(def: ToolDefinition): WireTool {
  if (def.wire) return def.wire;
  const description = def.deprecated
    ? `DEPRECATED: ${def.deprecated.message} ${def.description}`
    : def.description;
  return {
    name: def.name,
    title: def.title,
    description,
    inputSchema: explicitRequired(
      z.toJSONSchema(effectiveInputSchema(def), { io: 'input' }),
    ) as WireTool['inputSchema'],
    outputSchema: z.toJSONSchema(def.outputSchema, { io: 'output' }) as WireTool['outputSchema'],
    annotations: annotationsFor(def),
  };
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A tool definition as a server lists it: its name and whatever other fields it presents. */
export interface ListedTool {
  name: string;
  [field: string]: unknown;
}

/**
 * The pinned identity of a definition as a container presents it: every field of it (its title,
 * icons, `_meta` and `execution` as much as its description, schemas and annotations), so a change
 * to any field a client could be served is drift. The text is tagged with the scheme, so no
 * definition's digest can equal a pin made by the older scheme (legacyDefinitionDigest).
 */
export function definitionDigest(tool: ListedTool): string {
  return sha256(`bulkhead tool definition v2\n${canonicalJson(tool)}`);
}

/**
 * The digest pins were made with before every field was pinned: the name, description, schemas
 * and annotations only. An approval made then holds such a pin, and is checked by it
 * (matchesPin) until it is approved again.
 */
export function legacyDefinitionDigest(tool: ListedTool): string {
  return sha256(
    canonicalJson({
      name: tool.name,
      description: tool.description ?? null,
      inputSchema: tool.inputSchema,
      outputSchema: tool.outputSchema ?? null,
      annotations: tool.annotations ?? null,
    }),
  );
}

/**
 * Whether a presented definition is the one `pin` was made of, by the scheme the pin was made with:
 * the two schemes digest different texts (one tagged, one bare JSON), so a pin of either scheme is
 * matched only by a digest of its own.
 */
export function matchesPin(tool: ListedTool, pin: string): boolean {
  return definitionDigest(tool) === pin || legacyDefinitionDigest(tool) === pin;
}

/**
 * The fields of a tool definition the 2026-07-28 revision deleted (tasks left the core protocol):
 * the SDK's server leaves them out of a `tools/list` answer in that era (its deleted-fields rule),
 * so a tenant runtime, which the router speaks 2026-07-28 to, can never present them to the router.
 * A pack lists them to its runtime over the 2025 handshake, and the runtime checks them there
 * (runtime-image/src/packs/pack-host.ts).
 */
const FIELDS_THE_RUNTIME_ERA_DELETED: readonly string[] = ['execution'];

/** A definition as a tenant runtime can present it to the router: without the deleted fields. */
export function asPresentedToRouter(tool: ListedTool): ListedTool {
  return Object.fromEntries(
    Object.entries(tool).filter(([field]) => !FIELDS_THE_RUNTIME_ERA_DELETED.includes(field)),
  ) as ListedTool;
}

/**
 * The pin the router holds a runtime's presentation of an approved definition to: for a pin of
 * every field, the digest of what the runtime can present of it (asPresentedToRouter); a pin of
 * the older scheme as it is (it covers none of the deleted fields). A pin that is no digest of its
 * definition stays as it is, so nothing the runtime presents matches it.
 */
export function routerPin(definition: ListedTool, pin: string): string {
  return pin === definitionDigest(definition) ? definitionDigest(asPresentedToRouter(definition)) : pin;
}

/** Digest of a write's arguments without its idempotency key: same key + other digest = conflict. */
export function argumentsDigest(args: Record<string, unknown>): string {
  const { [IDEMPOTENCY_KEY_FIELD]: _key, ...rest } = args;
  return sha256(canonicalJson(rest));
}
