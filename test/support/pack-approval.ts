// An approval of the `notes` pack, version 1.0.0, whose one tool `add` (exposed as `notes_add`)
// has the given definition: the pack catalog's and the tool surface's unit tests read it.
import type { PackApproval } from '../../kernel/packs/pack-approval.ts';
import { definitionDigest } from '../../kernel/tools/tool-definition.ts';

export function notesApproval(definition: PackApproval['tools'][number]['definition']): PackApproval {
  const blastRadius = 'Appends one note and nothing else.';
  return {
    name: 'notes',
    version: '1.0.0',
    image: { ref: 'bulkhead/pack-notes:1.0.0', id: 'sha256:0' },
    manifest: {
      name: 'notes',
      version: '1.0.0',
      command: ['python3', '/opt/bulkhead/packs/notes/server.py'],
      secrets: [],
      idempotency: 'runtime',
      tools: { add: { effect: 'create', scopes: [], blastRadius } },
    },
    idempotency: 'runtime',
    tools: [
      {
        name: 'add',
        exposed: 'notes_add',
        effect: 'create',
        scope: null,
        blastRadius,
        definition,
        digest: definitionDigest(definition),
      },
    ],
    resources: [],
    resourceTemplates: [],
    prompts: [],
    approvedBy: 'test',
    approvedAt: '2026-01-01T00:00:00.000Z',
  };
}
