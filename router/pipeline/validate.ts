// Validation before dispatch (docs/architecture.md, "One call's path", step 5): the payload bound,
// the strict schema, control characters and the tool's semantic rules, in
// kernel/tools/tool-validation.ts so the tenant runtime runs the very same checks. Nothing
// that fails here is sent to a container.
import type { Logger } from 'pino';
import type { ToolDefinition } from '../../kernel/tools/tool-definition.ts';
import { validateToolArguments, type ValidationOutcome } from '../../kernel/tools/tool-validation.ts';

export function validateCall(def: ToolDefinition, rawArgs: unknown, log: Logger): ValidationOutcome {
  const outcome = validateToolArguments(def, rawArgs);
  if (!outcome.ok) {
    const { code } = outcome.error.structuredContent.error;
    log.info({ tool: def.name, version: def.version, code }, 'tool call rejected before dispatch');
  }
  return outcome;
}
