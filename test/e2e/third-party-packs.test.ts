// Two unmodified servers from the npm registry as packs, used through the router by real clients:
// @modelcontextprotocol/server-filesystem confined to the tenant's own directory, and
// @modelcontextprotocol/server-everything (progress, log messages, resources, prompts). Both are built from
// examples/packs/ (npm ci on the host, docker build --network none), approved in the sandbox and
// enabled through the control plane's use cases with the manifests' own scopes; then the SDK v2
// client in both protocol eras, the SDK v1 client and the MCP Inspector CLI call them as agents. The
// SDK clients get their tokens as they would anywhere: the router's 401 and protected resource
// metadata name the scopes (the packs' too), and their client-credentials providers ask the IdP for
// them (v2 from the challenge, v1 as configured from the metadata); the Inspector CLI takes a token
// minted for the advertised scopes. Tenant bravo enables the
// filesystem pack too and sees only its own directory. A token without a pack tool's scope is
// refused that tool with a step-up challenge naming the scope.
import {
  Client,
  ClientCredentialsProvider,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { ClientCredentialsProvider as V1ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpPost } from '../support/auth-harness.ts';
import { bearerClient, containerId } from '../support/mcp-client.ts';
import { openPackLab, type PackLab } from '../support/pack-lab.ts';
import type { TestStack } from '../support/stack.ts';
import { inspectorCli } from '../support/inspector-cli.ts';
import { PACK_META_KEY } from '../../kernel/packs/pack-naming.ts';

let stack: TestStack;
let lab: PackLab;
const versionOf = () => `2026.8.31-${stack.ns.namespace.slice(-6)}`;

/** Builds and approves one example pack under this run's version (image tags are global). */
async function buildAndApprove(pack: 'files' | 'everything'): Promise<string[]> {
  const { dir, manifest } = await lab.copyPack(`examples/packs/${pack}`, versionOf());
  return lab.buildAndApprove(dir, manifest);
}

async function enable(tenant: string, packs: string[]): Promise<void> {
  await lab.enable(
    tenant,
    packs.map((name) => ({ name, version: versionOf() })),
  );
}

/** The tenant's agent with the SDK's own client-credentials provider: no scope given to it. */
async function client(tenant: string, era: 'modern' | 'legacy' = 'modern'): Promise<Client> {
  const provider = new ClientCredentialsProvider({
    ...(await stack.agentCredentials(tenant)),
    expectedIssuer: stack.idp.issuer,
  });
  const c = new Client(
    { name: 'e2e-thirdparty', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await c.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider }));
  return c;
}

const text = (result: object) =>
  (((result as { content?: unknown }).content ?? []) as { type: string; text?: string }[])
    .map((c) => c.text ?? '')
    .join('\n');

async function untilListed(tenant: string, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = await client(tenant);
    try {
      if ((await c.listTools()).tools.some((t) => t.name === name)) return;
    } finally {
      await c.close();
    }
    if (Date.now() > deadline) throw new Error(`${tenant} never listed ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The runtime's log lines of server-everything's log messages that reached no caller. */
async function unrelayedLogLines(tenant: string): Promise<string[]> {
  const id = await containerId(stack, tenant);
  if (!id) return [];
  const raw = await stack.ns.docker.getContainer(id).logs({ stdout: true, stderr: true });
  return raw
    .toString('latin1')
    .split('\n')
    .filter((line) => line.includes('"pack":"everything"') && line.includes('not relayed to a caller'));
}

let exposed: { files: string[]; everything: string[] };

beforeAll(async () => {
  lab = await openPackLab('thirdparty');
  ({ stack } = lab);
  // Two Node packs beside the runtime and its records pack (four Node processes) outgrow the small
  // plan (docs/pack-runtime.md, "The reference pack"): alpha runs on the standard plan.
  await stack.onboard('alpha', { plan: 'standard' });
  await stack.onboard('bravo');
  exposed = { files: await buildAndApprove('files'), everything: await buildAndApprove('everything') };
  await enable('alpha', ['files', 'everything']);
  await enable('bravo', ['files']);
  // The pins recycle both runtimes; the router serves the packs once it has seen the new pins.
  for (const tenant of ['alpha', 'bravo']) {
    await untilListed(tenant, 'files_write_file');
    // The tenant's composed image (its packs' files and enabled.json), removed after the run; read
    // from a running container (a health pass on a loaded machine may be replacing it right now).
    await stack.runtimes.ensure(tenant);
    await lab.noteTenantImage(tenant);
  }
}, 600_000);

afterAll(async () => {
  await lab?.close();
});

describe('third-party packs from the npm registry', () => {
  it('approves every tool each server lists, writes with their blast radius', () => {
    expect(exposed.files).toEqual(expect.arrayContaining(['files_write_file', 'files_read_text_file']));
    expect(exposed.files).toHaveLength(14);
    // The tools the server lists only to a client that can answer sampling or elicitation are in
    // the approval too: the sandbox declares what the runtime declares.
    expect(exposed.everything).toEqual(
      expect.arrayContaining([
        'everything_trigger-long-running-operation',
        'everything_trigger-sampling-request',
      ]),
    );
  });

  it("advertises the packs' scopes; a token without a pack tool's scope is refused that tool, naming it", async () => {
    const packScopes = ['everything:read', 'everything:write', 'files:read', 'files:write'];
    expect(await stack.scopes()).toEqual(['records:read', 'records:write', ...packScopes]);
    const unauthenticated = await mcpPost(stack.mcpUrl, undefined);
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.challenge).toContain(`scope="records:read records:write ${packScopes.join(' ')}"`);

    const narrow = await stack.agentToken('alpha', { scope: 'records:read everything:read' });
    const read = { path: '/data/packs/files' };
    const refused = await mcpPost(stack.mcpUrl, narrow, {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'files_list_directory', arguments: read },
    });
    expect(refused.status).toBe(403);
    expect(refused.challenge).toMatch(/^Bearer error="insufficient_scope", scope="files:read", /);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'insufficient_scope', scope: 'files:read' });
    const c = await bearerClient(stack.mcpUrl, narrow);
    try {
      const names = (await c.listTools()).tools.map((t) => t.name);
      expect(names).toContain('everything_echo');
      expect(names).not.toContain('files_list_directory');
      const echoed = await c.callTool({ name: 'everything_echo', arguments: { message: 'scoped' } });
      expect(text(echoed)).toContain('scoped');
    } finally {
      await c.close();
    }

    const withScope = await bearerClient(
      stack.mcpUrl,
      await stack.agentToken('alpha', { scope: 'files:read' }),
    );
    try {
      const listed = await withScope.callTool({ name: 'files_list_directory', arguments: read });
      expect(listed.isError ?? false).toBe(false);
    } finally {
      await withScope.close();
    }
  }, 60_000);

  for (const era of ['modern', 'legacy'] as const) {
    it(`writes once per key, reads, and stays inside the tenant's directory (SDK v2, ${era})`, async () => {
      const c = await client('alpha', era);
      try {
        const tool = (await c.listTools()).tools.find((t) => t.name === 'files_write_file');
        expect(tool?.inputSchema.required).toEqual(
          expect.arrayContaining(['path', 'content', 'idempotency_key']),
        );
        const path = `/data/packs/files/${era}.txt`;
        const key = `tp-${era}-1`;
        const missingKey = await c.callTool({ name: 'files_write_file', arguments: { path, content: 'x' } });
        expect(missingKey.isError).toBe(true);
        const first = await c.callTool({
          name: 'files_write_file',
          arguments: { path, content: 'first', idempotency_key: key },
        });
        expect(first.isError ?? false).toBe(false);
        await c.callTool({
          name: 'files_write_file',
          arguments: { path, content: 'second', idempotency_key: `${key}-b` },
        });
        // The replay of the first key answers its stored result and writes nothing.
        const replay = await c.callTool({
          name: 'files_write_file',
          arguments: { path, content: 'first', idempotency_key: key },
        });
        expect(replay.content).toEqual(first.content);
        const read = await c.callTool({ name: 'files_read_text_file', arguments: { path } });
        expect(text(read)).toBe('second');
        for (const outside of ['/etc/passwd', '/data/packs/everything', '/data/packs/records/records.db']) {
          const refused = await c.callTool({ name: 'files_read_text_file', arguments: { path: outside } });
          expect(refused.isError).toBe(true);
          expect(text(refused)).toMatch(/outside allowed directories/);
        }
      } finally {
        await c.close();
      }
    }, 60_000);
  }

  it("keeps tenant bravo to its own directory and away from alpha's packs", async () => {
    const b = await client('bravo');
    try {
      const names = (await b.listTools()).tools.map((t) => t.name);
      expect(names).toContain('files_list_directory');
      expect(names.some((n) => n.startsWith('everything_'))).toBe(false);
      const listing = await b.callTool({
        name: 'files_list_directory',
        arguments: { path: '/data/packs/files' },
      });
      expect(listing.isError ?? false).toBe(false);
      expect(text(listing)).not.toMatch(/modern\.txt|legacy\.txt/);
      const read = await b.callTool({
        name: 'files_read_text_file',
        arguments: { path: '/data/packs/files/modern.txt' },
      });
      expect(read.isError).toBe(true);
      await expect(b.callTool({ name: 'everything_echo', arguments: { message: 'hi' } })).rejects.toThrow(
        /Unknown tool/,
      );
      await expect(
        b.readResource({ uri: 'demo://resource/static/document/architecture.md' }),
      ).rejects.toThrow();
      await expect(b.getPrompt({ name: 'everything_simple-prompt' })).rejects.toThrow();
    } finally {
      await b.close();
    }
  }, 60_000);

  it('relays progress, a resource and a prompt of server-everything (SDK v2)', async () => {
    const c = await client('alpha');
    try {
      const progress: number[] = [];
      const result = await c.callTool(
        { name: 'everything_trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
        { onprogress: (p) => progress.push(p.progress) },
      );
      expect(result.isError ?? false).toBe(false);
      expect(progress).toEqual([1, 2, 3]);
      // Listed through the router: each item names its pack (set by the runtime), checked again there.
      const listed = await c.listResources();
      expect(listed.resources.map((r) => r.uri)).toContain('demo://resource/static/document/architecture.md');
      expect(new Set(listed.resources.map((r) => r._meta?.[PACK_META_KEY]))).toEqual(new Set(['everything']));
      const resource = await c.readResource({ uri: 'demo://resource/dynamic/text/7' });
      expect(resource.contents[0]).toMatchObject({ uri: 'demo://resource/dynamic/text/7' });
      const prompt = await c.getPrompt({ name: 'everything_args-prompt', arguments: { city: 'Lyon' } });
      expect(JSON.stringify(prompt.messages)).toContain('Lyon');
    } finally {
      await c.close();
    }
  }, 60_000);

  it("relays server-everything's log messages to the call they are emitted during, and to nobody else", async () => {
    // Its toggle-simulated-logging tool sends a message at once (during that call), then one every
    // 5 s from a timer, during whatever call is in flight or during none. Every client here asked
    // for every level (logging/setLevel) on its session.
    const [caller, watcher, bravo] = await Promise.all([
      client('alpha', 'legacy'),
      client('alpha', 'legacy'),
      client('bravo', 'legacy'),
    ]);
    const seen = new Map<Client, unknown[]>([caller, watcher, bravo].map((c) => [c, []]));
    for (const [c, logs] of seen) {
      await c.setLoggingLevel('debug');
      c.setNotificationHandler('notifications/message', (n) => void logs.push(n.params.data));
    }
    const logsOf = (c: Client) => seen.get(c)!;
    const toggle = (key: string) =>
      caller.callTool({ name: 'everything_toggle-simulated-logging', arguments: { idempotency_key: key } });
    try {
      expect((await toggle('tp-logging-on')).isError ?? false).toBe(false);
      expect(logsOf(caller)).toEqual([expect.stringMatching(/level[- ]message/)]);
      // A call longer than the timer's pace: its tick falls during this call and reaches it.
      const progress: number[] = [];
      const long = await caller.callTool(
        { name: 'everything_trigger-long-running-operation', arguments: { duration: 6, steps: 3 } },
        { onprogress: (p) => void progress.push(p.progress) },
      );
      expect(long.isError ?? false).toBe(false);
      expect(progress).toEqual([1, 2, 3]);
      expect(logsOf(caller).length).toBeGreaterThanOrEqual(2);
      // Between calls the next tick reaches no client: it is in the runtime's log, with its data.
      const relayed = logsOf(caller).length;
      const before = (await unrelayedLogLines('alpha')).length;
      await expect
        .poll(async () => (await unrelayedLogLines('alpha')).length, { timeout: 15_000, interval: 500 })
        .toBeGreaterThan(before);
      expect((await unrelayedLogLines('alpha')).at(-1)).toMatch(/level[- ]message/);
      expect(logsOf(caller)).toHaveLength(relayed);
      // Another session of the tenant and another tenant saw none of it.
      expect(logsOf(watcher)).toEqual([]);
      expect(logsOf(bravo)).toEqual([]);
    } finally {
      await toggle('tp-logging-off');
      await Promise.all([caller, watcher, bravo].map((c) => c.close()));
    }
  }, 60_000);

  it('serves both packs to the SDK v1 client (2025-11-25)', async () => {
    // v1's client-credentials provider asks for the scope it is configured with (not the
    // challenge's): configured, as an application would, from the router's resource metadata.
    const provider = new V1ClientCredentialsProvider({
      ...(await stack.agentCredentials('alpha')),
      scope: (await stack.scopes()).join(' '),
      expectedIssuer: stack.idp.issuer,
    });
    const transport = new V1Transport(new URL(stack.mcpUrl), { authProvider: provider });
    const c = new V1Client({ name: 'e2e-v1', version: '1.0.0' });
    await c.connect(transport);
    try {
      const args = { path: '/data/packs/files/v1.txt', content: 'from v1', idempotency_key: 'tp-v1-key-1' };
      const written = await c.callTool({ name: 'files_write_file', arguments: args });
      expect(written.isError ? text(written) : '').toBe('');
      const read = await c.callTool({ name: 'files_read_text_file', arguments: { path: args.path } });
      expect(text(read)).toBe('from v1');
      const progress: number[] = [];
      await c.callTool(
        { name: 'everything_trigger-long-running-operation', arguments: { duration: 1, steps: 2 } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      );
      expect(progress).toEqual([1, 2]);
      const resource = await c.readResource({ uri: 'demo://resource/static/document/architecture.md' });
      expect(resource.contents[0]?.mimeType).toBe('text/markdown');
      const prompt = await c.getPrompt({ name: 'everything_simple-prompt' });
      expect(prompt.messages.length).toBeGreaterThan(0);
    } finally {
      await transport.terminateSession().catch(() => undefined);
      await c.close();
    }
  }, 60_000);

  it('serves both packs to the MCP Inspector CLI', async () => {
    const token = await stack.agentToken('alpha');
    const cli = await inspectorCli({ mcpUrl: stack.mcpUrl, token });
    try {
      const call = (tool: string, ...args: string[]) =>
        cli.run('--method', 'tools/call', '--tool-name', tool, ...args.flatMap((a) => ['--tool-arg', a]));
      const written = await call(
        'files_write_file',
        'path=/data/packs/files/inspector.txt',
        'content=from-inspector',
        'idempotency_key=tp-inspector-1',
      );
      expect(written.isError ?? false).toBe(false);
      const read = await call('files_read_text_file', 'path=/data/packs/files/inspector.txt');
      expect(text(read)).toBe('from-inspector');
      const resource = await cli.run('--method', 'resources/read', '--uri', 'demo://resource/dynamic/text/3');
      expect(JSON.stringify(resource)).toContain('demo://resource/dynamic/text/3');
      const prompt = await cli.run(
        '--method',
        'prompts/get',
        '--prompt-name',
        'everything_args-prompt',
        '--prompt-args',
        'city=Oslo',
      );
      expect(JSON.stringify(prompt)).toContain('Oslo');
    } finally {
      await cli.close();
    }
  }, 120_000);
});
