// Packs inside a tenant's container, on the real engine: the runtime hosts the fixture packs as
// child processes, serves only approved tools whose definitions match, keys pack writes, and relays
// the protocol (progress, logging, cancellation, mixed content, resources, prompts, completion).
import { randomUUID } from 'node:crypto';
import type { CallToolResult, Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnabledPack } from '../../kernel/packs/enabled-packs.ts';
import { PACK_META_KEY } from '../../kernel/packs/pack-naming.ts';
import { definitionDigest } from '../../kernel/tools/tool-definition.ts';
import { UNANSWERED } from '../../kernel/wire/input-answers.ts';
import { execIn, testNamespace, type TestNamespace } from '../support/namespace.ts';
import { approvePack, buildPackImage, PROXY_VARIABLES, removeImage } from '../support/pack-image.ts';
import { packTenants, type PackTenants } from '../support/pack-tenants.ts';

let ns: TestNamespace;
let tenants: PackTenants;
let image: string;
let notes: EnabledPack;
let client: Client;
const TENANT = 'relay-a';
const UID = 100_431;

beforeAll(async () => {
  ns = await testNamespace('packs-relay');
  notes = await approvePack('notes', ['drifting']);
  image = await buildPackImage({ tag: ns.namespace, packs: [notes] });
  tenants = await packTenants(ns);
  await tenants.start(TENANT, UID, image);
  client = await tenants.client(TENANT, { packs: ['notes'] });
});

afterAll(async () => {
  await client?.close();
  await ns?.cleanup();
  if (image) await removeImage(image);
});

const structured = (result: CallToolResult) => result.structuredContent as Record<string, unknown>;
const key = () => `k-${randomUUID()}`;

describe('packs in the tenant runtime', () => {
  it('lists the approved pack tools under their exposed names next to the records tools; withholds a drifted one', async () => {
    const tools = await client.listTools();
    const names = tools.tools.map((t) => t.name);
    expect(names).toContain('records_create');
    expect(names).toEqual(expect.arrayContaining(['notes_write', 'notes_list', 'notes_slow', 'notes_media']));
    expect(names).not.toContain('notes_drifting');
    for (const tool of tools.tools.filter((t) => t.name.startsWith('notes_'))) {
      expect(definitionDigest(tool)).toBe(notes.tools.find((t) => t.exposed === tool.name)?.digest);
    }
    const withheld = await client.callTool({ name: 'notes_drifting', arguments: {} });
    expect(structured(withheld)).toMatchObject({ error: { code: 'tool_withheld' } });
  });

  it("runs the pack as the tenant's UID in its own 0700 directory with only its own environment", async () => {
    const seen = structured(await client.callTool({ name: 'notes_whoami', arguments: {} }));
    expect(seen).toMatchObject({ uid: UID, home: '/data/packs/notes', pack: 'notes', token: null });
    expect(seen.env).toEqual(['BULKHEAD_PACK', 'HOME', 'PATH', 'TMPDIR', ...PROXY_VARIABLES].sort());
    // Its own port of the egress bridge: the tenant-wide port is 3128, the first pack's the next.
    expect(seen.proxy).toBe('http://127.0.0.1:3129');
    const { driver } = tenants;
    const info = await driver.inspect(TENANT);
    const mode = await execIn(ns.docker, info!.runtimeId, [
      'stat',
      '-c',
      '%a %u',
      '/data/packs/notes',
      '/tmp/packs/notes',
    ]);
    expect(mode.output.trim().split('\n')).toEqual([`700 ${UID}`, `700 ${UID}`]);
  });

  it('keys pack writes: replay of the stored result, conflict on other arguments, key required; units pass through', async () => {
    const k = key();
    const first = await client.callTool({
      name: 'notes_write',
      arguments: { title: 'one', body: 'hello', idempotency_key: k },
    });
    expect(first.isError).toBeFalsy();
    expect(first._meta?.['io.bulkhead/units']).toBe(2);
    // The runtime strips the key: a pack with idempotency "runtime" never sees it.
    expect(structured(first)).toMatchObject({ written: 'one', key: null });
    const again = await client.callTool({
      name: 'notes_write',
      arguments: { title: 'one', body: 'hello', idempotency_key: k },
    });
    expect(structured(again)).toEqual(structured(first));
    const other = await client.callTool({
      name: 'notes_write',
      arguments: { title: 'one', body: 'changed', idempotency_key: k },
    });
    expect(structured(other)).toMatchObject({
      error: { code: 'idempotency_key_reused', error_class: 'conflict' },
    });
    const keyless = await client.callTool({
      name: 'notes_write',
      arguments: { title: 'x', body: 'y' },
    });
    expect(structured(keyless)).toMatchObject({ error: { code: 'invalid_arguments' } });
    const fresh = structured(
      await client.callTool({
        name: 'notes_write',
        arguments: { title: 'two', body: 'b', idempotency_key: key() },
      }),
    );
    // One dispatch for the three calls with the first key: the pack counted two writes in all.
    expect(fresh.writes).toBe((structured(first).writes as number) + 1);
  });

  it('relays progress and log messages while the call runs', async () => {
    const progress: number[] = [];
    const logs: unknown[] = [];
    client.setNotificationHandler('notifications/message', (n) => void logs.push(n.params.data));
    const result = await client.callTool(
      { name: 'notes_slow', arguments: { n: 3, stepMs: 20 } },
      { onprogress: (p) => void progress.push(p.progress) },
    );
    expect(structured(result)).toEqual({ done: 3 });
    expect({ progress, logs }).toEqual({ progress: [1, 2, 3], logs: ['step 1', 'step 2', 'step 3'] });
  });

  it("relays a log message only to the one call in flight: with two, neither gets the other's", async () => {
    const second = await tenants.client(TENANT, { packs: ['notes'] });
    const logsA: unknown[] = [];
    const logsB: unknown[] = [];
    client.setNotificationHandler('notifications/message', (n) => void logsA.push(n.params.data));
    second.setNotificationHandler('notifications/message', (n) => void logsB.push(n.params.data));
    let started: Promise<CallToolResult> | undefined;
    const progressB: number[] = [];
    const a = await client.callTool(
      { name: 'notes_slow', arguments: { n: 12, stepMs: 150 } },
      {
        // At A's second step, B makes a short call: both of B's steps fall inside A's.
        onprogress: (p) => {
          if (p.progress === 2)
            started = second.callTool(
              { name: 'notes_slow', arguments: { n: 2, stepMs: 10 } },
              { onprogress: (q) => void progressB.push(q.progress) },
            );
        },
      },
    );
    expect(structured(a)).toEqual({ done: 12 });
    expect(structured(await started!)).toEqual({ done: 2 });
    await second.close();
    // Progress is routed by its token, so B still gets its own; B's log messages went to no caller.
    expect(progressB).toEqual([1, 2]);
    expect(logsB).toEqual([]);
    // A got its own steps from when it was alone (first and last), none twice, none of B's.
    expect(logsA).toContain('step 1');
    expect(logsA).toContain('step 12');
    expect(new Set(logsA).size).toBe(logsA.length);
  });

  it("a client's cancel reaches the pack", async () => {
    const abort = new AbortController();
    const call = client.callTool(
      { name: 'notes_slow', arguments: { n: 200, stepMs: 50 } },
      { signal: abort.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    abort.abort();
    await expect(call).rejects.toThrow();
    // The pack saw notifications/cancelled and recorded it in its own directory.
    let listed: string[] = [];
    for (let i = 0; i < 100 && !listed.includes('cancelled.txt'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      listed = structured(await client.callTool({ name: 'notes_list', arguments: {} })).notes as string[];
    }
    expect(listed).toContain('cancelled.txt');
  });

  it('a dropped connection reaches the pack as a cancel', async () => {
    const cancelled = async () =>
      ((await client.readResource({ uri: 'notes://note/cancelled' })).contents[0] as { text: string }).text;
    // The earlier test's cancel left its request id in cancelled.txt.
    const before = await cancelled();
    const dropping = await tenants.client(TENANT, { packs: ['notes'] });
    const call = dropping.callTool({ name: 'notes_slow', arguments: { n: 200, stepMs: 50 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await dropping.close();
    await call.catch(() => undefined);
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await cancelled();
    }
    expect(after).not.toBe(before);
  });

  it('passes mixed content through unchanged', async () => {
    const result = await client.callTool({ name: 'notes_media', arguments: {} });
    expect(result.content.map((c) => c.type)).toEqual(['image', 'audio', 'resource']);
    expect(result.content[0]).toMatchObject({ mimeType: 'image/png' });
    expect(result.content[2]).toMatchObject({ resource: { uri: 'notes://readme', text: 'hello' } });
  });

  it('serves resources, templates, prompts (renamed) and completion from the pack', async () => {
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['notes://readme']);
    expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual([
      'notes://note/{title}',
    ]);
    expect((await client.readResource({ uri: 'notes://readme' })).contents[0]).toMatchObject({
      text: 'notes pack',
    });
    expect((await client.readResource({ uri: 'notes://note/one' })).contents[0]).toMatchObject({
      text: 'hello',
    });
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['notes_summarize']);
    const prompt = await client.getPrompt({ name: 'notes_summarize', arguments: { title: 'one' } });
    expect(prompt.messages[0]?.content).toMatchObject({ text: 'Summarize one' });
    const completion = await client.complete({
      ref: { type: 'ref/prompt', name: 'notes_summarize' },
      argument: { name: 'title', value: 'al' },
    });
    expect(completion.completion.values).toEqual(['alpha']);
    await expect(client.readResource({ uri: 'other://x' })).rejects.toThrow(/no pack/);
  });

  it("serves a caller none of a pack's resources, templates or prompts unless the signed context names the pack", async () => {
    // A caller the router lets reach only the records pack (a role granted records tools alone).
    const recordsOnly = await tenants.client(TENANT, { packs: ['records'] });
    try {
      expect((await recordsOnly.listResources()).resources).toEqual([]);
      expect((await recordsOnly.listResourceTemplates()).resourceTemplates).toEqual([]);
      expect((await recordsOnly.listPrompts()).prompts).toEqual([]);
      // The same refusal as the router's own, which the router records as a denial.
      await expect(recordsOnly.readResource({ uri: 'notes://readme' })).rejects.toMatchObject({
        code: -32602,
        data: { code: 'unknown_resource' },
        message: expect.stringMatching(/no pack/),
      });
      await expect(recordsOnly.readResource({ uri: 'notes://note/one' })).rejects.toThrow(/no pack/);
      await expect(
        recordsOnly.getPrompt({ name: 'notes_summarize', arguments: { title: 'one' } }),
      ).rejects.toThrow(/no pack/);
      await expect(
        recordsOnly.complete({
          ref: { type: 'ref/resource', uri: 'notes://note/{title}' },
          argument: { name: 'title', value: 'o' },
        }),
      ).rejects.toThrow(/no pack/);
    } finally {
      await recordsOnly.close();
    }
    // What is listed to a caller who may reach the pack names the pack, whatever the pack put in `_meta`.
    const listed = await client.listResources();
    expect(listed.resources.map((r) => r._meta?.[PACK_META_KEY])).toEqual(['notes']);
    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t._meta?.[PACK_META_KEY])).toEqual(['notes']);
  });

  it("a pack's elicitation reaches the caller as input_required, and the retry with the answer completes the call", async () => {
    // A 2026-07-28 client fulfils the question itself and retries with the answer (the SDK's own
    // multi-round-trip driver): the pack's pending request gets it and the call completes.
    const auto = await tenants.client(TENANT);
    auto.setRequestHandler('elicitation/create', () =>
      Promise.resolve({ action: 'accept' as const, content: { name: 'Ada' } }),
    );
    expect(structured(await auto.callTool({ name: 'notes_ask', arguments: {} }))).toEqual({
      action: 'accept',
      content: { name: 'Ada' },
    });
    await auto.close();
    // By hand, as the router does: the first answer names the question and the state to retry with.
    const manual = await tenants.client(TENANT, { manualInput: true });
    const call = { method: 'tools/call' as const, params: { name: 'notes_ask', arguments: {} } };
    const asked = (await manual.request(call, { allowInputRequired: true })) as unknown as {
      resultType: string;
      inputRequests: Record<string, { method: string; params: { message: string } }>;
      requestState: string;
    };
    expect(asked.resultType).toBe('input_required');
    const [[question, request]] = Object.entries(asked.inputRequests) as [
      [string, { method: string; params: { message: string } }],
    ];
    expect(request).toMatchObject({ method: 'elicitation/create', params: { message: 'Your name?' } });
    const answer = { [question]: { action: 'accept', content: { name: 'Grace' } } };
    // Another agent of the tenant holding the state cannot answer for this caller.
    const other = await tenants.client(TENANT, { agent: 'agent-2', manualInput: true });
    const retry = {
      ...call,
      params: { ...call.params, inputResponses: answer, requestState: asked.requestState },
    };
    const stolen: CallToolResult = await other.request(retry, { allowInputRequired: true });
    await other.close();
    expect(structured(stolen)).toMatchObject({ error: { code: 'request_state_invalid' } });
    const done: CallToolResult = await manual.request(retry, { allowInputRequired: true });
    expect(structured(done)).toEqual({ action: 'accept', content: { name: 'Grace' } });
    // When the router could not ask its client, it says so: the pack's request fails at once and
    // its call ends, instead of waiting for an answer until the runtime gives up on it.
    const again = (await manual.request(call, { allowInputRequired: true })) as unknown as typeof asked;
    const [key] = Object.keys(again.inputRequests) as [string];
    const unanswered: CallToolResult = await manual.request(
      {
        ...call,
        params: { ...call.params, inputResponses: { [key]: UNANSWERED }, requestState: again.requestState },
      },
      { allowInputRequired: true },
    );
    await manual.close();
    expect(structured(unanswered)).toEqual({
      refused: 'elicitation/create: the client could not be asked; no answer will come',
    });
  });
});
