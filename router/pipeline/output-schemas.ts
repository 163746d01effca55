// What a tenant tool's result must be before it reaches the agent: a non-error result of a tool with
// an output schema carries structured content that the schema the agent was listed accepts (MCP: a
// server MUST; a stock SDK client throws on a result that breaks it, so the agent would see its own
// client crash instead of a structured error). A pack tool's schema is the one the operator
// approved (kernel/packs/pack-approval.ts); a records tool's is the JSON Schema of its zod schema
// (wireTool), not the zod schema itself, whose objects drop the keys they do not name where the
// listed schema refuses them (additionalProperties: false). The check is the SDK's own validator
// (its Ajv provider, which a stock client checks with, and a runtime's pack clients too:
// runtime-image/src/packs/output-validators.ts): Ajv 2020 for a schema without `$schema`, with
// the options the runtime's precompiled validators use, and the client's engine for a schema that
// names another dialect, so the router, the runtime and the client give one verdict. A library,
// not checks of our own: JSON Schema has dozens of keywords, formats and dialects, and any keyword
// read differently from the client's Ajv is an answer the router passes and the client refuses.
// A compiled validator checks a result in microseconds; compiling one takes milliseconds, so each
// is compiled once per definition: a pack tool's by its approved digest, a built-in's per object.
import type { JsonSchemaType, JsonSchemaValidator, Result } from '@modelcontextprotocol/client';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { wireTool, type ToolDefinition } from '../../kernel/tools/tool-definition.ts';
import { isInputRequired, type ToolAnswer } from '../dispatch/call-relay.ts';
import type { ResultCheck } from '../dispatch/runtime-result.ts';
import { asPinnedVersion } from './pinned-version.ts';

type Check = JsonSchemaValidator<unknown>;

const ajv = new AjvJsonSchemaValidator();
/**
 * By approved digest; null: the tool has no output schema. Never emptied, like Ajv's own cache of
 * what it compiled: what it holds is bounded by the definitions approved in the router's life.
 */
const byDigest = new Map<string, Check | null>();
const byDefinition = new WeakMap<ToolDefinition, Check | null>();

/** A schema that does not compile accepts no result: a runtime we shipped calls no such tool. */
function compiled(schema: JsonSchemaType | undefined): Check | null {
  if (schema === undefined) return null;
  try {
    return ajv.getValidator(schema);
  } catch (error) {
    const errorMessage = `the output schema does not compile: ${(error as Error).message}`;
    return () => ({ valid: false, data: undefined, errorMessage });
  }
}

function checkOf(def: ToolDefinition): Check | null {
  const digest = def.pack?.digest;
  let check = digest === undefined ? byDefinition.get(def) : byDigest.get(digest);
  if (check !== undefined) return check;
  check = compiled(wireTool(def).outputSchema);
  if (digest === undefined) byDefinition.set(def, check);
  else byDigest.set(digest, check);
  return check;
}

/**
 * Why `answer` may not reach the agent as a result of `def`, or undefined when it may. A result
 * flagged `isError` is not checked (MCP allows it any content), nor an `input_required` answer. A
 * deprecated version is checked as the agent gets it: cut to the fields that version names.
 */
export function outputProblem(def: ToolDefinition, answer: ToolAnswer): string | undefined {
  if (isInputRequired(answer) || answer.isError) return undefined;
  const check = checkOf(def);
  if (!check) return undefined;
  const { structuredContent } = asPinnedVersion(def, answer);
  if (structuredContent === undefined) return 'a result without structured content';
  const verdict = check(structuredContent);
  return verdict.valid ? undefined : verdict.errorMessage;
}

/**
 * Compiles the checks of `defs` now (the built-in tools' at the router's start): a compile takes
 * milliseconds (an Ajv instance's first, tens), which would otherwise fall on a first call.
 */
export function compileOutputChecks(defs: readonly ToolDefinition[]): void {
  for (const def of defs) checkOf(def);
}

/** The dispatcher's check of `def`'s results (runtime-result.ts). */
export function outputCheck(def: ToolDefinition): ResultCheck {
  return (result: Result) => outputProblem(def, result as ToolAnswer);
}
