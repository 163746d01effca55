// How invalid input is reported to an operator, wherever it comes from (a setting, a tenants file, a
// flag): one `<field path>: <reason>` line per problem, the path in the dotted form the operator
// types (`tenants[0].plan.memoryMb`), never zod's own "✖ ... → at" layout.
import { z } from 'zod';

/**
 * The parse options for input an operator wrote, whose refusal issueLines reports. A field left out
 * that takes one of a set of values (an enum, a literal, a union's discriminator) is missing, as a
 * left-out string or number is ("received undefined"); zod 4 says "expected one of ..." of it, and
 * keeps an issue's input only while it writes the message, so issueLines cannot tell it afterwards.
 * A discriminator that none of the union's forms has is said as a wrong enum value is.
 */
export const OPERATOR_INPUT: z.core.ParseContext<z.core.$ZodIssue> = { error: operatorMessage };

function operatorMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_value' && issue.input === undefined)
    return `missing (required: ${oneOf(issue.values)})`;
  // A discriminated union's: the path is the discriminator's, the input the object.
  if (issue.code === 'invalid_union' && issue.discriminator !== undefined && Array.isArray(issue.options)) {
    const values = oneOf(issue.options as z.core.util.Primitive[]);
    const object = issue.input as Record<string, unknown> | undefined;
    return object?.[issue.discriminator] === undefined
      ? `missing (required: ${values})`
      : `expected ${values}`;
  }
  return undefined;
}

/** `"a"`, or `one of "a"|"b"`: as zod writes the values of an enum or a literal. */
function oneOf(values: z.core.util.Primitive[]): string {
  return `${values.length === 1 ? '' : 'one of '}${z.core.util.joinValues(values, '|')}`;
}

/**
 * The lines of a schema's refusal, each field's path after `prefix` (a setting's variable, a
 * file's top-level key). An unknown key is named as a field of its own, the path a reader looks at.
 */
export function issueLines(error: z.ZodError, prefix: PropertyKey[] = []): string[] {
  return error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => `${dotPath([...path, key])}: unknown field`);
    return [fieldLine(path, reasonOf(issue))];
  });
}

/** One problem's line: the field's path as the operator types it (`tenants[0].tools[1].name`), then why. */
export function fieldLine(path: PropertyKey[], reason: string): string {
  return path.length === 0 ? reason : `${dotPath(path)}: ${reason}`;
}

/**
 * Why zod refused the value. Its "Invalid input" of a value that no form of a union takes, and its
 * "Invalid key in record", say nothing of why: that is in issues of their own, given here instead.
 */
function reasonOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union' && issue.errors.length > 0)
    return `none of its forms: ${issue.errors.map((issues) => nested(issues)).join('; or ')}`;
  if (issue.code === 'invalid_key') return `invalid key: ${nested(issue.issues)}`;
  return reasonOfMessage(issue.message);
}

/** Issues under one value, each one's path (when it is not the value itself) from that value. */
function nested(issues: z.core.$ZodIssue[]): string {
  return issues.map((issue) => fieldLine(issue.path, reasonOf(issue))).join(', ');
}

/**
 * zod's "Invalid input: expected number, received string" (or "Invalid option: ...") says it twice, and a field
 * left out is "received undefined" to zod but missing to the operator.
 */
function reasonOfMessage(message: string): string {
  const reason = message.replace(/^Invalid (input|option): (?=expected)/, '');
  const missing = /^expected (.+), received undefined$/.exec(reason);
  return missing ? `missing (required: ${missing[1]})` : reason;
}

/**
 * `path` as an operator types it: `a.b[0]`, a key that is no plain name quoted (`roles[""]`,
 * `packs["Bad Name"]`); zod's toDotPath wrote an empty key as nothing (`roles.`).
 */
export function dotPath(path: PropertyKey[]): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(name)) return index === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name)}]`;
    })
    .join('');
}
