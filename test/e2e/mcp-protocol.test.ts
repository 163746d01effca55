// The /mcp endpoint's protocol behaviour on the wire, against the running stack (real IdP tokens,
// real Redis): 2025-11-25 sessions bound to their principal, the 2026-07-28 header checks, and what
// the endpoint refuses before any tool runs (foreign Origin or Host, batches, oversized bodies).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let alphaToken: string;
let bravoToken: string;

const LEGACY_VERSION = '2025-11-25';
const MODERN_VERSION = '2026-07-28';

function post(body: unknown, headers: Record<string, string> = {}, token = alphaToken): Promise<Response> {
  return fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Reads a JSON-RPC message from a JSON or a single-event SSE response. */
type RpcMessage = { result?: unknown; error?: { code: number } };

async function message(response: Response): Promise<RpcMessage> {
  const text = await response.text();
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream'))
    return JSON.parse(text) as RpcMessage;
  const data = text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => line.slice(6))
    .find((line) => line.trim().startsWith('{'));
  if (!data) throw new Error(`no JSON-RPC message in the SSE response: ${text}`);
  return JSON.parse(data) as RpcMessage;
}

async function openSession(token: string): Promise<string> {
  const response = await post(
    {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: LEGACY_VERSION,
        capabilities: {},
        clientInfo: { name: 'wire', version: '1' },
      },
    },
    {},
    token,
  );
  expect(response.status).toBe(200);
  const id = response.headers.get('mcp-session-id');
  expect(id).toMatch(/^[\x21-\x7e]+$/);
  await response.body?.cancel();
  return id as string;
}

function listTools(sessionId: string, token = alphaToken): Promise<Response> {
  return post(
    { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
    { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION },
    token,
  );
}

/** The per-request envelope of a 2026-07-28 request. */
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'wire', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function modernCall(
  toolInBody: string,
  headers: Record<string, string>,
  token = alphaToken,
): Promise<Response> {
  return post(
    {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: toolInBody, arguments: {}, _meta: MODERN_META },
    },
    { 'mcp-protocol-version': MODERN_VERSION, ...headers },
    token,
  );
}

beforeAll(async () => {
  stack = await startTestStack('proto');
  // Registered only: these tests never reach a tenant runtime, but a token must name a tenant.
  for (const id of ['alpha', 'bravo']) {
    await stack.registry.create({ id, plan: planByName('small'), isolation: 'runc' });
  }
  alphaToken = await stack.agentToken('alpha');
  bravoToken = await stack.agentToken('bravo');
});

afterAll(async () => {
  await stack?.close();
});

describe('2025-11-25 sessions', () => {
  it('opens a session on initialize, serves it, and answers 404 after DELETE', async () => {
    const sessionId = await openSession(alphaToken);
    const listed = await listTools(sessionId);
    expect(listed.status).toBe(200);
    expect(await message(listed)).toMatchObject({ result: { tools: expect.any(Array) } });

    const deleted = await fetch(stack.mcpUrl, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${alphaToken}`, 'mcp-session-id': sessionId },
    });
    expect(deleted.status).toBe(200);
    const after = await listTools(sessionId);
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ error: { code: -32001 } });
  });

  it('requires a session id on every 2025 request after initialize', async () => {
    const response = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    expect(response.status).toBe(400);
    const unknown = await listTools('x'.repeat(43));
    expect(unknown.status).toBe(404);
  });

  it("rejects a session replayed with another principal's token, and keeps it for its owner", async () => {
    const sessionId = await openSession(alphaToken);
    const replayed = await listTools(sessionId, bravoToken);
    expect(replayed.status).toBe(404);
    expect(await replayed.json()).toMatchObject({ error: { code: -32001, message: 'Session not found' } });
    // Nor may the other principal end it.
    const deleted = await fetch(stack.mcpUrl, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${bravoToken}`, 'mcp-session-id': sessionId },
    });
    expect(deleted.status).toBe(404);
    // Nor read it: a GET is refused as for an unknown session, not with the 405 its owner gets,
    // which would confirm that the session exists.
    const read = await fetch(stack.mcpUrl, {
      headers: {
        authorization: `Bearer ${bravoToken}`,
        'mcp-session-id': sessionId,
        accept: 'text/event-stream',
      },
    });
    expect(read.status).toBe(404);
    await read.body?.cancel();
    const owner = await listTools(sessionId);
    expect(owner.status).toBe(200);
    await owner.body?.cancel();
  });

  it('refuses an unsupported MCP-Protocol-Version header on a session request with 400', async () => {
    const sessionId = await openSession(alphaToken);
    const response = await post(
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      { 'mcp-session-id': sessionId, 'mcp-protocol-version': '1999-01-01' },
    );
    expect(response.status).toBe(400);
    await response.body?.cancel();
  });

  it('answers GET on a live session with 405 (no server-initiated messages)', async () => {
    const sessionId = await openSession(alphaToken);
    const response = await fetch(stack.mcpUrl, {
      headers: {
        authorization: `Bearer ${alphaToken}`,
        'mcp-session-id': sessionId,
        accept: 'text/event-stream',
      },
    });
    expect(response.status).toBe(405);
    await response.body?.cancel();
  });
});

describe('2026-07-28 requests', () => {
  it('answers server/discover statelessly, with no session', async () => {
    const response = await post(
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'server/discover',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
            'io.modelcontextprotocol/clientInfo': { name: 'wire', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      },
      { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'server/discover' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('mcp-session-id')).toBeNull();
    expect(await message(response)).toMatchObject({
      result: { supportedVersions: [MODERN_VERSION], capabilities: { tools: {} } },
    });
  });

  it('requires the Mcp-Method header (400, -32020 when absent)', async () => {
    const response = await modernCall('whoami', {});
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: -32020 } });
  });

  it('serves a request whose Mcp-Method and Mcp-Name headers match the body', async () => {
    const response = await modernCall('whoami', { 'mcp-method': 'tools/call', 'mcp-name': 'whoami' });
    expect(response.status).toBe(200);
    expect(await message(response)).toMatchObject({ result: { structuredContent: { tenant: 'alpha' } } });
  });

  it('answers a header/body mismatch with 400 and JSON-RPC error -32020', async () => {
    const wrongName = await modernCall('whoami', { 'mcp-method': 'tools/call', 'mcp-name': 'records_list' });
    expect(wrongName.status).toBe(400);
    expect(await wrongName.json()).toMatchObject({ error: { code: -32020 } });
    const wrongMethod = await modernCall('whoami', { 'mcp-method': 'tools/list', 'mcp-name': 'whoami' });
    expect(wrongMethod.status).toBe(400);
    expect(await wrongMethod.json()).toMatchObject({ error: { code: -32020 } });
  });
});

describe('a tools/call sent as a notification (no id)', () => {
  it("runs nothing and spends none of the tenant's budget, in either era", async () => {
    // Bravo's own budget: the other tests here call as alpha.
    const dayLeft = async (): Promise<number> => {
      const answer = await modernCall(
        'whoami',
        { 'mcp-method': 'tools/call', 'mcp-name': 'whoami' },
        bravoToken,
      );
      const { result } = (await message(answer)) as {
        result?: { _meta?: { 'io.bulkhead/budget'?: { tenant_day?: { remaining?: number } } } };
      };
      const remaining = result?._meta?.['io.bulkhead/budget']?.tenant_day?.remaining;
      if (typeof remaining !== 'number') throw new Error('whoami answered without its budget');
      return remaining;
    };
    const before = await dayLeft();
    const sessionId = await openSession(bravoToken);
    for (let i = 0; i < 10; i++) {
      const modern = await post(
        {
          jsonrpc: '2.0',
          method: 'tools/call',
          params: { name: 'whoami', arguments: {}, _meta: MODERN_META },
        },
        { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/call', 'mcp-name': 'whoami' },
        bravoToken,
      );
      expect(modern.status).toBe(202);
      const legacy = await post(
        { jsonrpc: '2.0', method: 'tools/call', params: { name: 'whoami', arguments: {} } },
        { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION },
        bravoToken,
      );
      expect(legacy.status).toBe(202);
    }
    // The second whoami is the only call taken since the first (a day's budget refills a token in
    // about nine seconds, so it can only have grown meanwhile).
    expect(await dayLeft()).toBeGreaterThanOrEqual(before - 1);
  });
});

describe('header checks on 2025-era requests', () => {
  it('refuses Mcp-Method or Mcp-Name headers that disagree with the body (-32020), as on the modern path', async () => {
    const sessionId = await openSession(alphaToken);
    const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION };
    const wrongMethod = await post(call, { ...session, 'mcp-method': 'tools/list' });
    expect(wrongMethod.status).toBe(400);
    expect(await wrongMethod.json()).toMatchObject({ error: { code: -32020 } });
    const wrongName = await post(call, {
      ...session,
      'mcp-method': 'tools/call',
      'mcp-name': 'records_list',
    });
    expect(wrongName.status).toBe(400);
    const matching = await post(call, { ...session, 'mcp-method': 'tools/call', 'mcp-name': 'whoami' });
    expect(matching.status).toBe(200);
    expect(await message(matching)).toMatchObject({ result: { structuredContent: { tenant: 'alpha' } } });
  });

  it('answers a body that is not JSON with a JSON-RPC parse error', async () => {
    const response = await post('{not json');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: -32700 } });
  });

  it('answers a body nested deeper than the router walks with a parse error, before anything runs', async () => {
    // A modern call of whoami whose arguments nest `levels` arrays: three thousand is a few KB that
    // JSON.parse takes, and that would exhaust the stack of the validation and of the audit record's
    // digest (kernel/wire/json-depth.ts).
    const nested = (levels: number): Promise<Response> => {
      const call = {
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: {
          name: 'whoami',
          arguments: { a: 'NESTED' },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
            'io.modelcontextprotocol/clientInfo': { name: 'wire', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      };
      const body = JSON.stringify(call).replace('"NESTED"', `${'['.repeat(levels)}${']'.repeat(levels)}`);
      return post(body, {
        'mcp-protocol-version': MODERN_VERSION,
        'mcp-method': 'tools/call',
        'mcp-name': 'whoami',
      });
    };
    const deep = await nested(3000);
    expect(deep.status).toBe(400);
    expect(await deep.json()).toMatchObject({
      error: { code: -32700, message: expect.stringMatching(/nested deeper than 64/) },
    });
    // Within the bound, the same call is answered (whoami refuses the argument it does not take).
    const shallow = await nested(50);
    expect(shallow.status).toBe(200);
    await shallow.body?.cancel();
  });
});

describe('refused before any tool runs', () => {
  it('answers a foreign Origin with 403, even with a valid token', async () => {
    const evil = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    const otherPort = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { origin: 'http://127.0.0.1:1' });
    expect(otherPort.status).toBe(403);
    const nullOrigin = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    const own = await post(
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: LEGACY_VERSION,
          capabilities: {},
          clientInfo: { name: 'w', version: '1' },
        },
      },
      { origin: new URL(stack.mcpUrl).origin },
    );
    expect(own.status).toBe(200);
    await own.body?.cancel();
  });

  it('answers a Host it does not serve with 403 (DNS rebinding)', async () => {
    const { request } = await import('undici');
    const response = await request(stack.mcpUrl, {
      method: 'POST',
      headers: {
        host: 'attacker.example',
        authorization: `Bearer ${alphaToken}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(response.statusCode).toBe(403);
    await response.body.dump();
  });

  it('answers a JSON-RPC batch with an error and runs none of it', async () => {
    const response = await post([
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
    ]);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: -32600, message: expect.stringMatching(/batch/i) },
    });
  });

  it('answers an oversized body with 413', async () => {
    const response = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'whoami', arguments: { padding: 'x'.repeat(2 * 1024 * 1024) } },
    });
    expect(response.status).toBe(413);
  });
});
