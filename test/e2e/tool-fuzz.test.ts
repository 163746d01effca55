// Property-based fuzzing of the running router (fast-check): 10,000 generated tool calls and raw
// JSON-RPC messages over HTTP with a real token, a real tenant container behind. Properties: never a
// 5xx, never a crash (the router still serves afterwards), every tool rejection a structured error
// (error_class from the closed set), every protocol rejection a JSON-RPC error; and the tenant
// runtime's own validation counter stays at zero: no invalid call ever reached the container.
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { ERROR_CLASSES } from '../../kernel/tools/tool-errors.ts';
import { rawMessage, toolCall } from '../support/fuzz-arbitraries.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'fuzz';
const TOOL_CALLS = 7_000;
const RAW_MESSAGES = 3_000;
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

let stack: TestStack;
let token = '';
let tokenAt = 0;
const tally = {
  sent: 0,
  toolErrors: 0,
  toolOk: 0,
  protocolErrors: 0,
  http4xx: 0,
  byClass: {} as Record<string, number>,
};

async function bearer(): Promise<string> {
  if (Date.now() - tokenAt > 60_000) {
    token = await stack.agentToken(TENANT);
    tokenAt = Date.now();
  }
  return token;
}

function runtimeHealth(
  socketPath: string,
): Promise<{ calls: number; invalid_calls: number; refused: number }> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path: '/healthz' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolve(JSON.parse(body) as { calls: number; invalid_calls: number; refused: number }),
      );
    })
      .on('error', reject)
      .end();
  });
}

async function post(
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; messages: unknown[] }> {
  const response = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await bearer()}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      ...headers,
    },
    body,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  tally.sent += 1;
  const type = response.headers.get('content-type') ?? '';
  const messages = type.includes('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data:') && l.length > 5)
        .map((l) => JSON.parse(l.slice(5)) as unknown)
    : text.length > 0 && type.includes('json')
      ? [JSON.parse(text) as unknown]
      : [];
  return { status: response.status, messages };
}

/** Every answer is a JSON-RPC result or error; every failed tool result carries a structured error. */
function checkMessage(message: unknown): void {
  const m = message as { result?: Record<string, unknown>; error?: { code: unknown; message: unknown } };
  if (m.error) {
    expect(typeof m.error.code).toBe('number');
    expect(typeof m.error.message).toBe('string');
    tally.protocolErrors += 1;
    return;
  }
  expect(m.result).toBeTypeOf('object');
  if (m.result?.isError === true) {
    const error = (m.result.structuredContent as { error?: Record<string, unknown> } | undefined)?.error;
    expect(error, JSON.stringify(m.result)).toBeDefined();
    expect(ERROR_CLASSES).toContain(error!.error_class);
    expect(typeof error!.code).toBe('string');
    expect(typeof error!.retryable).toBe('boolean');
    tally.toolErrors += 1;
    const cls = `${String(error!.error_class)}:${String(error!.code)}`;
    tally.byClass[cls] = (tally.byClass[cls] ?? 0) + 1;
  } else if (m.result && 'content' in m.result) tally.toolOk += 1;
}

beforeAll(async () => {
  stack = await startTestStack('fuzz');
  // These calls come from agents acting alone (client credentials): open the tools to them.
  await stack.onboard(TENANT, { tools: openToAgentsAlone('all') });
});

afterAll(async () => {
  await stack?.close();
});

describe('tool surface fuzzing through the running router', () => {
  it(`survives ${TOOL_CALLS + RAW_MESSAGES} generated tool calls and JSON-RPC messages; nothing invalid reaches the runtime`, async () => {
    const endpoint = await stack.runtimes.ensure(TENANT);
    if (endpoint.kind !== 'unix') throw new Error('expected a unix socket endpoint');
    const before = await runtimeHealth(endpoint.socketPath);
    let id = 0;

    await fc.assert(
      fc.asyncProperty(toolCall, async (call) => {
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id: ++id,
          method: 'tools/call',
          params: { ...call, _meta: META },
        });
        const { status, messages } = await post(body, { 'mcp-method': 'tools/call', 'mcp-name': call.name });
        expect(status).toBeLessThan(500);
        if (status >= 400) tally.http4xx += 1;
        messages.forEach(checkMessage);
      }),
      { numRuns: TOOL_CALLS, seed: 6 },
    );
    await fc.assert(
      fc.asyncProperty(rawMessage, async (message) => {
        const headers: Record<string, string> = { 'mcp-method': message.method };
        if (message.name !== undefined && /^[\x20-\x7e]*$/.test(message.name))
          headers['mcp-name'] = message.name;
        const { status, messages } = await post(message.body, headers);
        expect(status).toBeLessThan(500);
        if (status >= 400) tally.http4xx += 1;
        messages.forEach(checkMessage);
      }),
      { numRuns: RAW_MESSAGES, seed: 66 },
    );

    const after = await runtimeHealth(endpoint.socketPath);
    console.info(JSON.stringify({ fuzz: tally, runtime: { before, after } }));
    expect(tally.sent).toBeGreaterThanOrEqual(10_000);
    // No call failed inside the runtime either: every failure was a decision, not a crash.
    expect(Object.keys(tally.byClass).filter((k) => k.startsWith('transient'))).toEqual([]);
    // Calls did reach the runtime (so the counter means something), and not one of them was invalid.
    expect(after.calls - before.calls).toBeGreaterThan(100);
    expect(after.invalid_calls).toBe(0);
    expect(after.refused).toBe(before.refused);
    expect((await fetch(`${new URL(stack.mcpUrl).origin}/healthz`)).status).toBe(200);
  }, 600_000);
});
