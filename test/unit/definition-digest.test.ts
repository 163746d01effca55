// The drift guard pins every field of a tool definition (kernel/tools/tool-definition.ts,
// definitionDigest): a runtime that presents an approved tool under another title, other icons,
// `_meta` or `execution` has drifted, as with another description. A pin made before (the name,
// description, schemas and annotations only) still holds its own fields, and is matched only by a
// digest of its own scheme. And the records tools' definitions, through the SDK as the runtime's
// client and the router read them, keep the digest the router pins.
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, Server, specTypeSchemas, type Tool } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RECORDS_TOOLS } from '../../kernel/packs/records.ts';
import {
  definitionDigest,
  legacyDefinitionDigest,
  matchesPin,
  wireTool,
} from '../../kernel/tools/tool-definition.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { pinsFewerFields } from '../../tenants/cli/pack-commands.ts';
import { notesApproval } from '../support/pack-approval.ts';

const approved = {
  name: 'notes_add',
  title: 'Add a note',
  description: 'Adds a note.',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
  annotations: { readOnlyHint: false },
  icons: [{ src: 'https://example.com/note.png' }],
  execution: { taskSupport: 'forbidden' },
  _meta: { 'example.com/hint': 'notes' },
};

/** The router's guard for one tenant that enables `notes_add` under `pin`. */
function guardOf(pin: string): DriftGuard {
  return new DriftGuard({
    approved: [],
    packDigests: () => new Map([['notes_add', pin]]),
    logger: pino({ level: 'silent' }),
  });
}

describe('the drift guard', () => {
  it.each([
    ['title', { title: 'Add a note (and read ~/.ssh)' }],
    ['icons', { icons: [{ src: 'https://attacker.example/note.png' }] }],
    ['_meta', { _meta: { 'example.com/hint': 'send the notes elsewhere' } }],
    ['execution', { execution: { taskSupport: 'required' } }],
    ['annotations', { annotations: { readOnlyHint: true } }],
    ['outputSchema', { outputSchema: { type: 'object' } }],
    ['a field of its own', { extra: 'added after approval' }],
  ])('withholds an approved tool whose %s changed', (_field, change) => {
    const guard = guardOf(definitionDigest(approved));
    guard.check('acme', [approved]);
    expect(guard.isWithheld('acme', 'notes_add')).toBe(false);
    guard.check('acme', [{ ...approved, ...change }]);
    expect(guard.isWithheld('acme', 'notes_add')).toBe(true);
  });

  it("holds a pin made before every field was pinned to that pin's fields", () => {
    const guard = guardOf(legacyDefinitionDigest(approved));
    guard.check('acme', [{ ...approved, title: 'Another title' }]);
    expect(guard.isWithheld('acme', 'notes_add')).toBe(false);
    guard.check('acme', [{ ...approved, description: 'Adds a note, and mails it out.' }]);
    expect(guard.isWithheld('acme', 'notes_add')).toBe(true);
  });
});

describe('bulkhead pack list', () => {
  it('tells an approval whose pins hold fewer fields from one pinned whole', () => {
    const whole = notesApproval(approved);
    const older = {
      ...whole,
      tools: whole.tools.map((t) => ({ ...t, digest: legacyDefinitionDigest(t.definition) })),
    };
    expect(pinsFewerFields(whole)).toBe(false);
    expect(pinsFewerFields(older)).toBe(true);
  });
});

describe('a pin', () => {
  it('of either scheme is matched only by a digest of its own', () => {
    // The five fields the older scheme digested, and nothing else: its bare JSON is the same text.
    const five = {
      name: 'n',
      description: 'd',
      inputSchema: { type: 'object' },
      outputSchema: {},
      annotations: {},
    };
    expect(matchesPin({ ...five, title: 'added' }, definitionDigest(five))).toBe(false);
    expect(matchesPin({ ...five, title: 'added' }, legacyDefinitionDigest(five))).toBe(true);
    expect(definitionDigest(five)).not.toBe(legacyDefinitionDigest(five));
  });
});

describe("the records tools' definitions through the SDK", () => {
  it('keep the digest the router pins, as the runtime lists them and as the router reads them', async () => {
    const server = new Server({ name: 'records', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler('tools/list', () => Promise.resolve({ tools: RECORDS_TOOLS.map(wireTool) }));
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'runtime', version: '1' }, { capabilities: {} });
    await client.connect(clientSide);
    const { tools } = await client.listTools();
    await client.close();
    // What the router makes of the runtime's answer (router/dispatch/runtime-request.ts).
    const read = specTypeSchemas.ListToolsResult['~standard'].validate(JSON.parse(JSON.stringify({ tools })));
    if (read instanceof Promise || read.issues) throw new Error('not a tool list');
    const routerRead = (read.value as { tools: Tool[] }).tools;
    for (const def of RECORDS_TOOLS) {
      const pin = definitionDigest(wireTool(def));
      expect(definitionDigest(tools.find((t) => t.name === def.name)!)).toBe(pin);
      expect(definitionDigest(routerRead.find((t) => t.name === def.name)!)).toBe(pin);
    }
  });
});
