// A tenant pinned to an older records_list is answered as that version described its result
// (router/pipeline/pinned-version.ts): the runtime implements only the current version, whose
// next_cursor the older output schemas refuse. Checked with the SDK client's own validator against
// the wire schema each version lists, on answers of the records pack's own call function.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST } from '../../kernel/packs/manifest.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { callRecordsTool } from '../../runtime-image/src/records-pack/records-calls.ts';
import { RecordsStore } from '../../runtime-image/src/records-pack/records-store.ts';
import { asPinnedVersion } from '../../router/pipeline/pinned-version.ts';

let dir: string;
let store: RecordsStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-pinned-version-'));
  store = new RecordsStore(join(dir, 'records.db'), { idempotencyWindowMs: 60_000 });
  for (const title of ['one', 'two', 'three']) store.create({ title, body: '', tags: [] }, 'agent');
});

afterAll(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

function version(v: string) {
  const def = MANIFEST.find((d) => d.name === 'records_list' && d.version === v);
  if (!def) throw new Error(v);
  return def;
}

/** What the SDK's client says of the answer's structured content, by the version's listed schema. */
function clientCheck(v: string, structured: unknown) {
  return new AjvJsonSchemaValidator().getValidator(wireTool(version(v)).outputSchema)(structured);
}

describe('an answer to an older version of records_list', () => {
  const answer = () => callRecordsTool(store, 'records_list', { limit: 2 }, 'agent');

  it('keeps only the fields that version names, in its structured content and its text', () => {
    expect(clientCheck('1.1.0', answer().structuredContent).valid).toBe(false);
    for (const v of ['1.0.0', '1.1.0']) {
      const shaped = asPinnedVersion(version(v), answer()) as ReturnType<typeof answer>;
      const records = (answer().structuredContent as { records: unknown[] }).records;
      expect(shaped.structuredContent).toEqual({ records });
      expect(shaped.content).toEqual([{ type: 'text', text: JSON.stringify({ records }) }]);
      expect(clientCheck(v, shaped.structuredContent)).toMatchObject({ valid: true });
    }
  });

  it('leaves the current version and errors as they are', () => {
    const current = answer();
    expect(asPinnedVersion(version('1.2.0'), current)).toBe(current);
    expect(clientCheck('1.2.0', current.structuredContent)).toMatchObject({ valid: true });
    const error = callRecordsTool(store, 'records_list', { limit: 0 }, 'agent');
    expect(asPinnedVersion(version('1.1.0'), error)).toBe(error);
  });
});
