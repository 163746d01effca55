// A pack's JSON Schema as the router enforces it: converted by zod, with every regular expression
// the pack wrote (`pattern`, the keys of `patternProperties`) run by V8's linear-time engine. The
// router validates every tenant's arguments on one event loop, and a backtracking pattern
// (`^(a+)+$`, or a plain `a.*b` on a long string) held it for seconds to forever on one argument.
// (A tool's results are checked with the SDK's Ajv validator, as clients check them: patterns there
// run in Unicode mode, which the linear engine does not take; output-schemas.ts.)
import { setFlagsFromString } from 'node:v8';
import { z } from 'zod';

// V8 takes the `l` (linear) flag only with this switch; set before any pack pattern is compiled.
setFlagsFromString('--enable-experimental-regexp-engine');

/** Every regular expression a schema's text names, wherever it sits (conservative: defaults too). */
function patternsOf(schema: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const item of schema) patternsOf(item, into);
  else if (schema !== null && typeof schema === 'object')
    for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
      if (key === 'pattern' && typeof value === 'string') into.add(value);
      if (key === 'patternProperties' && value !== null && typeof value === 'object')
        for (const name of Object.keys(value)) into.add(name);
      patternsOf(value, into);
    }
  return into;
}

/**
 * The pattern compiled for linear-time matching, or an Error naming it: one the linear engine
 * cannot run (a backreference, a lookahead, a bound past its size limit) is not enforced at all.
 */
function linearPattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern, 'l');
  } catch (error) {
    throw new Error(
      `pattern ${JSON.stringify(pattern)} cannot be matched in linear time (${(error as Error).message}); ` +
        'write it without backreferences, lookaheads and large {n,m} bounds',
      { cause: error },
    );
  }
}

/**
 * zod's schema for a pack's JSON Schema; throws when it cannot be enforced (as z.fromJSONSchema
 * does, and for a pattern linearPattern refuses). zod compiles each pattern with `new RegExp(p)`
 * and offers no way to choose the engine, so during the (synchronous) conversion the global
 * constructor compiles exactly the pack's patterns with the linear flag and every other call as is.
 */
export function packSchemaToZod(schema: Record<string, unknown>): z.ZodType {
  const patterns = patternsOf(schema);
  for (const pattern of patterns) linearPattern(pattern);
  const Native = globalThis.RegExp;
  globalThis.RegExp = new Proxy(Native, {
    construct(target, args: [string | RegExp, string?], newTarget) {
      const [source, flags] = args;
      if (typeof source === 'string' && flags === undefined && patterns.has(source))
        return linearPattern(source);
      return Reflect.construct(target, args, newTarget) as RegExp;
    },
  });
  try {
    return z.fromJSONSchema(schema);
  } finally {
    globalThis.RegExp = Native;
  }
}
