// One validation procedure for a tool call, used by the router before dispatch and again by the
// tenant runtime: payload bound, then the strict schema (with the idempotency key for writes), then
// control characters in any string, then the tool's semantic rules.
import { controlCharacterIssues } from './semantic-rules.ts';
import { effectiveInputSchema, type ToolDefinition } from './tool-definition.ts';
import { toolError, type ToolErrorResult } from './tool-errors.ts';

export type ValidationOutcome =
  { ok: true; args: Record<string, unknown> } | { ok: false; error: ToolErrorResult };

const SCHEMAS = new WeakMap<ToolDefinition, ReturnType<typeof effectiveInputSchema>>();

/** Built once per definition: the schema with the idempotency key added for writes. */
function schemaOf(def: ToolDefinition): ReturnType<typeof effectiveInputSchema> {
  let schema = SCHEMAS.get(def);
  if (!schema) {
    schema = effectiveInputSchema(def);
    SCHEMAS.set(def, schema);
  }
  return schema;
}

export function validateToolArguments(def: ToolDefinition, raw: unknown): ValidationOutcome {
  const size = Buffer.byteLength(JSON.stringify(raw ?? {}) ?? '', 'utf8');
  if (size > def.maxPayloadBytes) {
    return {
      ok: false,
      error: toolError(
        'payload_too_large',
        `arguments are ${size} bytes; ${def.name} accepts at most ${def.maxPayloadBytes}`,
      ),
    };
  }
  const parsed = schemaOf(def).safeParse(raw ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      error: toolError('invalid_arguments', 'the arguments do not match the tool schema', {
        details: parsed.error.issues.map((issue) => ({
          path: issue.path.map(String).join('.'),
          code: issue.code,
          message: issue.message,
        })),
      }),
    };
  }
  const args = parsed.data as Record<string, unknown>;
  const issues = [...controlCharacterIssues(args), ...def.semantic.flatMap((rule) => rule(args))];
  if (issues.length > 0) {
    return {
      ok: false,
      error: toolError(issues[0]!.code, issues.map((i) => i.message).join('; '), {
        details: issues,
      }),
    };
  }
  return { ok: true, args };
}
