// A pack write's arguments as the router enforces them (kernel/packs/pack-approval.ts): the
// idempotency key on its own, and the pack's own schema over the rest, whatever the shape of that
// schema. Merged into the pack's schema, the key was not read beside a root `$ref` (zod reads no
// keyword there): a keyless write passed, every one of a tool under the key "undefined", and a
// call with a key was refused.
import { describe, expect, it } from 'vitest';
import { packToolDefinition } from '../../kernel/packs/pack-approval.ts';
import { validateToolArguments } from '../../kernel/tools/tool-validation.ts';
import { notesApproval } from '../support/pack-approval.ts';

const NOTE = {
  type: 'object',
  properties: { text: { type: 'string', maxLength: 3 } },
  additionalProperties: false,
};

function notesAdd(inputSchema: Record<string, unknown>) {
  const approval = notesApproval({ name: 'notes_add', inputSchema });
  return packToolDefinition(approval, approval.tools[0]!);
}

describe('a pack write schema', () => {
  for (const [shape, schema] of [
    ['properties at its root', NOTE],
    ['a root $ref', { type: 'object', $ref: '#/$defs/note', $defs: { note: NOTE } }],
  ] as const)
    it(`with ${shape} requires the idempotency key and checks the rest by the pack's schema`, () => {
      const def = notesAdd(schema);
      expect(validateToolArguments(def, { text: 'hi', idempotency_key: 'key-0001' })).toEqual({
        ok: true,
        args: { text: 'hi', idempotency_key: 'key-0001' },
      });
      expect(validateToolArguments(def, { text: 'hi' }).ok).toBe(false);
      expect(validateToolArguments(def, { text: 'hi', idempotency_key: 'short' }).ok).toBe(false);
      expect(validateToolArguments(def, { text: 'long', idempotency_key: 'key-0001' }).ok).toBe(false);
      expect(validateToolArguments(def, { text: 'hi', other: 1, idempotency_key: 'key-0001' }).ok).toBe(
        false,
      );
    });
});
