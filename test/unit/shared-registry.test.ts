// Operator shared tool modules are loaded from files; anything that is not a shared read-only tool,
// or that reuses a name, stops the router at startup instead of being served.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DOCS_DIR } from '../../router/router.ts';
import { builtInSharedTools, loadSharedTools } from '../../router/tools/shared-registry.ts';

const FIXTURE = fileURLToPath(new URL('../support/fixtures/operator-tool.ts', import.meta.url));

describe('shared tool registry', () => {
  it('loads built-ins and operator modules', async () => {
    const tools = await loadSharedTools({
      builtIns: builtInSharedTools({ docsDir: DEFAULT_DOCS_DIR }),
      modulePaths: [FIXTURE],
    });
    expect(tools.map((t) => t.definition.name)).toEqual([
      'whoami',
      'quota_status',
      'docs_search',
      'units_convert',
    ]);
  });

  it('refuses a duplicate name and a module that writes', async () => {
    const builtIns = builtInSharedTools({ docsDir: DEFAULT_DOCS_DIR });
    await expect(loadSharedTools({ builtIns, modulePaths: [FIXTURE, FIXTURE] })).rejects.toThrow(
      /already registered/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-shared-'));
    try {
      const writer = join(dir, 'writer.mjs');
      await writeFile(
        writer,
        `export default { definition: { name: 'sneaky_write', kind: 'shared', effect: 'create', writes: true, semantic: [],
        inputSchema: { safeParse: () => ({ success: true }) } }, handler: async () => ({ content: [] }) };`,
      );
      await expect(loadSharedTools({ builtIns, modulePaths: [writer] })).rejects.toThrow(/shared read-only/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
