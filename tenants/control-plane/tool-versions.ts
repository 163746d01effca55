// The manifest's tool versions by name, for commands that enable tools by name only.
import { RECORDS_TOOLS, SHARED_TOOLS } from '../../kernel/packs/manifest.ts';

export const TOOL_VERSIONS = new Map<string, string>(
  [...SHARED_TOOLS, ...RECORDS_TOOLS].map((tool) => [tool.name, tool.version]),
);
