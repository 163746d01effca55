// The drift guard pins every field of a tool definition (kernel/tools/tool-definition.ts,
// definitionDigest): a runtime that presents an approved tool under another title, other icons or
// `_meta` has drifted, as with another description. `execution`, which the 2026-07-28 revision
// deleted, never reaches the router from a runtime (the SDK's server leaves it out of that era's
// `tools/list`): the runtime checks it on its pack's own listing, and the router holds the runtime
// to every other field. A pin made before (the name, description, schemas and annotations only)
// still holds its own fields, and is matched only by a digest of its own scheme.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMcpHandler, type ListToolsResult, type Tool } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RECORDS_TOOLS } from '../../kernel/packs/records.ts';
import {
  definitionDigest,
  legacyDefinitionDigest,
  matchesPin,
  wireTool,
} from '../../kernel/tools/tool-definition.ts';
import { sendRuntimeRequest, type RuntimePost } from '../../router/dispatch/runtime-request.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { PackCatalog } from '../../router/tools/pack-catalog.ts';
import { PackHost } from '../../runtime-image/src/packs/pack-host.ts';
import { createToolServer } from '../../runtime-image/src/tool-server.ts';
import { pinsFewerFields } from '../../tenants/cli/pack-commands.ts';
import { notesApproval } from '../support/pack-approval.ts';
import { tenantRecord } from '../support/tenant.ts';

/** As server-everything and server-filesystem list every tool: `execution` included. */
const approved: Tool = {
  name: 'notes_add',
  title: 'Add a note',
  description: 'Adds a note.',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
  annotations: { readOnlyHint: false },
  icons: [{ src: 'https://example.com/note.png' }],
  execution: { taskSupport: 'forbidden' },
  _meta: { 'example.com/hint': 'notes' },
};

/**
 * `tools` as a tenant runtime presents them to the router: listed by the runtime's own MCP server
 * (the SDK's, 2026-07-28) and read by the router's own request to a runtime.
 */
async function presentedToRouter(tools: Tool[]): Promise<Tool[]> {
  const mcp = createMcpHandler(() =>
    createToolServer({
      context: { tenant: 'acme', user: null, agent: 'agent-1', scopes: [] },
      counters: { calls: 0, invalid_calls: 0 },
      packs: { capabilities: {}, tools: () => tools, call: () => undefined, install: () => undefined },
    }),
  );
  const post: RuntimePost = async (body, headers, signal) => {
    const request = new Request('http://runtime/mcp', { method: 'POST', body, headers, signal });
    const response = await mcp.fetch(request, { authInfo: { token: '', clientId: 'agent-1', scopes: [] } });
    const contentType = response.headers.get('content-type') ?? '';
    return { status: response.status, contentType, body: response.body };
  };
  const listed = await sendRuntimeRequest(
    post,
    { method: 'tools/list', params: {} },
    {},
    new AbortController(),
  );
  return (listed as ListToolsResult).tools;
}

/** The router's guard for tenant acme, which enables notes@1.0.0 approved as `definition` under `pin`. */
async function guardOf(definition: Tool, pin = definitionDigest(definition)): Promise<DriftGuard> {
  const approval = notesApproval(definition);
  const tools = approval.tools.map((tool) => ({ ...tool, digest: pin }));
  const catalog = new PackCatalog({ source: { list: () => Promise.resolve([{ ...approval, tools }]) } });
  const pins = [{ name: 'notes', version: '1.0.0', agentsAlone: false }];
  await catalog.refresh([tenantRecord('acme', { packs: pins })]);
  return new DriftGuard({
    approved: [],
    packDigests: (tenant) => catalog.digestsFor(tenant),
    logger: pino({ level: 'silent' }),
  });
}

describe('the drift guard', () => {
  it('serves an approved tool whose `execution` the runtime cannot present to it', async () => {
    const presented = await presentedToRouter([approved]);
    expect(presented[0]).not.toHaveProperty('execution');
    const guard = await guardOf(approved);
    guard.check('acme', presented);
    expect(guard.isWithheld('acme', 'notes_add')).toBe(false);
  });

  it.each([
    ['title', { title: 'Add a note (and read ~/.ssh)' }],
    ['icons', { icons: [{ src: 'https://attacker.example/note.png' }] }],
    ['_meta', { _meta: { 'example.com/hint': 'send the notes elsewhere' } }],
    ['annotations', { annotations: { readOnlyHint: true } }],
    ['outputSchema', { outputSchema: { type: 'object' } }],
    ['description', { description: 'Adds a note, and mails it out.' }],
  ])('withholds an approved tool whose %s the runtime presents changed', async (_field, change) => {
    const guard = await guardOf(approved);
    guard.check('acme', await presentedToRouter([{ ...approved, ...change }]));
    expect(guard.isWithheld('acme', 'notes_add')).toBe(true);
  });

  it("holds a pin made before every field was pinned to that pin's fields", async () => {
    const guard = await guardOf(approved, legacyDefinitionDigest(approved));
    guard.check('acme', await presentedToRouter([{ ...approved, title: 'Another title' }]));
    expect(guard.isWithheld('acme', 'notes_add')).toBe(false);
    guard.check('acme', await presentedToRouter([{ ...approved, description: 'Mails the notes out.' }]));
    expect(guard.isWithheld('acme', 'notes_add')).toBe(true);
  });

  it('serves the records tools as the runtime presents them', async () => {
    const guard = new DriftGuard({ approved: RECORDS_TOOLS, logger: pino({ level: 'silent' }) });
    guard.check('acme', await presentedToRouter(RECORDS_TOOLS.map(wireTool)));
    for (const def of RECORDS_TOOLS) expect(guard.isWithheld('acme', def.name)).toBe(false);
  });
});

/** What the runtime's pack host serves of notes_add, pinned whole as `approved`, when the pack lists `listed`. */
async function servedByHost(listed: Tool): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-definition-digest-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const tool = {
    name: 'add',
    exposed: 'notes_add',
    effect: 'create',
    digest: definitionDigest(approved),
  } as const;
  const host = new PackHost({
    packsDir: dir,
    enabled: [
      {
        name: 'notes',
        version: '1.0.0',
        command: ['true'],
        secrets: [],
        idempotency: 'runtime',
        tools: [tool],
      },
    ],
    egressPort: 3128,
    secretsFile: join(dir, 'none.json'),
    dataDir: join(dir, 'data'),
    tmpDir: join(dir, 'tmp'),
    confinement: 'landlock',
    callTimeoutMs: 1_000,
    maxMessageBytes: 1024 * 1024,
    crashThreshold: 3,
    log: pino({ level: 'silent' }),
  });
  // What the pack process sets when its pack has listed (pack-process.ts); no process is started.
  host.packs[0]!.listing = { tools: [listed], resources: [], templates: [], prompts: [] };
  return host.servedTools().map((served) => served.wire.name);
}

describe("the runtime's pack host", () => {
  it('serves a tool the pack lists as approved, under its exposed name', async () => {
    expect(await servedByHost({ ...approved, name: 'add' })).toEqual(['notes_add']);
  });

  it.each([
    ['execution', { execution: { taskSupport: 'required' } }],
    ['title', { title: 'Add a note (and read ~/.ssh)' }],
    ['icons', { icons: [{ src: 'https://attacker.example/note.png' }] }],
  ])('withholds a tool whose %s the pack lists changed', async (_field, change) => {
    expect(await servedByHost({ ...approved, ...change, name: 'add' } as Tool)).toEqual([]);
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
