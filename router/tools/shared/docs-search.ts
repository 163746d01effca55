// docs_search over the operator's published documentation: Markdown files in one directory, read
// once at startup. Tenant-agnostic by construction: the same files for everyone. The `doc` argument
// only selects among the loaded names (and is checked as a safe segment before), so it never
// becomes a path.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SharedToolHandler } from './shared-tool.ts';
import { structured } from './structured.ts';

export function createDocsSearch(dir: string): SharedToolHandler {
  const docs = new Map<string, string[]>(
    readdirSync(dir)
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => [name, readFileSync(join(dir, name), 'utf8').split('\n')]),
  );
  return (_principal, args) => {
    const query = (args.query as string).toLowerCase();
    const limit = args.limit as number;
    const only = args.doc as string | undefined;
    const matches: { doc: string; line: number; text: string }[] = [];
    for (const [doc, lines] of docs) {
      if (only !== undefined && doc !== only) continue;
      lines.forEach((text, index) => {
        if (matches.length < limit && text.toLowerCase().includes(query))
          matches.push({ doc, line: index + 1, text });
      });
    }
    return Promise.resolve(structured({ matches }));
  };
}
