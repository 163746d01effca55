// A tenant pinned to an older version of a records tool is answered as that version described its
// result (docs/tools.md, "Versions"). The runtime implements only the current version, and a later
// version may add fields to the result (records_list 1.2.0 added next_cursor); an older version's
// output schema refuses fields it does not name (additionalProperties: false), so a client that
// checks a result against it, as the SDK's does, would refuse the answer. Only built-in versions
// are older ones (kernel/packs/records.ts, RECORDS_TOOL_HISTORY), and their text is the JSON of
// their structured content, so the text is made again from what is kept.
import type { ToolDefinition } from '../../kernel/tools/tool-definition.ts';
import type { ToolAnswer } from '../dispatch/call-relay.ts';

/**
 * `answer` with its structured content cut to the fields `def` (a deprecated version) names; as it
 * is for the current version, an error, or content that does not fit the older schema at all.
 */
export function asPinnedVersion(def: ToolDefinition, answer: ToolAnswer): ToolAnswer {
  if (!def.deprecated || !('structuredContent' in answer) || answer.isError) return answer;
  // zod's object schemas drop the keys they do not name (RecordSchema itself is strict).
  const kept = def.outputSchema.safeParse(answer.structuredContent);
  if (!kept.success) return answer;
  const structuredContent = kept.data as Record<string, unknown>;
  return {
    ...answer,
    content: [{ type: 'text', text: JSON.stringify(structuredContent) }],
    structuredContent,
  };
}
