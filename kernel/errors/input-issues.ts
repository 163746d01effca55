// How invalid input is reported to an operator, wherever it comes from (a setting, a tenants file, a
// flag): one `<field path>: <reason>` line per problem, the path in the dotted form the operator
// types (`tenants[0].plan.memoryMb`), never zod's own "✖ ... → at" layout.
import { z } from 'zod';

/**
 * The lines of a schema's refusal, each field's path after `prefix` (a setting's variable, a
 * file's top-level key). An unknown key is named as a field of its own, the path a reader looks at.
 */
export function issueLines(error: z.ZodError, prefix: PropertyKey[] = []): string[] {
  return error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => `${z.core.toDotPath([...path, key])}: unknown field`);
    return [fieldLine(path, reasonOf(issue.message))];
  });
}

/** One problem's line: the field's path as the operator types it (`tenants[0].tools[1].name`), then why. */
export function fieldLine(path: PropertyKey[], reason: string): string {
  return path.length === 0 ? reason : `${z.core.toDotPath(path)}: ${reason}`;
}

/**
 * zod's "Invalid input: expected number, received string" (or "Invalid option: ...") says it twice, and a field
 * left out is "received undefined" to zod but missing to the operator.
 */
function reasonOf(message: string): string {
  const reason = message.replace(/^Invalid (input|option): (?=expected)/, '');
  const missing = /^expected (.+), received undefined$/.exec(reason);
  return missing ? `missing (required: ${missing[1]})` : reason;
}
