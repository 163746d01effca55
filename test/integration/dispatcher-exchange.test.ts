// The dispatcher's request to a runtime without an SDK client per call (router/dispatch/runtime-request.ts):
// what the per-call client gave for free must hold per request. A scripted runtime on a real unix
// socket (it verifies nothing and answers what each test tells it, hostile answers included); the
// real dispatcher, signer and bounds. The only stand-in is the RuntimeLocator port.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import type { RelayedNotification } from '../../router/dispatch/call-relay.ts';
import { TenantDispatcher, type ReadBreach } from '../../router/dispatch/tenant-dispatcher.ts';
import { DriftGuard, type ToolGuard } from '../../router/tools/drift-guard.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { bodyDigest, callAssertionAudience, type CallContext } from '../../kernel/wire/call-assertion.ts';
import {
  sse,
  startScriptedRuntime,
  textResult as result,
  type ScriptedRuntime,
} from '../support/scripted-runtime.ts';

interface Seen {
  body: string;
  id: number;
  token: unknown;
  assertion: string;
  /** Resolves when the request's connection closed before its answer ended. */
  cut: Promise<void>;
}
type Script = (seen: Seen, res: ServerResponse, all: Seen[]) => void | Promise<void>;

let runtime: ScriptedRuntime;
let script: Script = () => undefined;
let seen: Seen[] = [];
let publicKey: KeyObject;
let sign: Awaited<ReturnType<typeof createCallSigner>>;

beforeAll(async () => {
  const keys = generateKeyPairSync('ed25519');
  publicKey = keys.publicKey;
  sign = await createCallSigner(keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  runtime = await startScriptedRuntime(({ body, message, assertion, cut }, res) => {
    // Every request reaches the test's script, a new route's first ones included: the router
    // sends no server/discover, so each test's count of what arrived shows that too.
    const meta = message.params._meta as { progressToken?: unknown } | undefined;
    const entry: Seen = { body, id: message.id, token: meta?.progressToken, assertion, cut };
    seen.push(entry);
    void script(entry, res, seen);
  });
});

afterAll(async () => {
  await runtime.close();
});

function dispatcher(breaches: ReadBreach[] = [], guard?: ToolGuard): TenantDispatcher {
  const { endpoint } = runtime;
  return new TenantDispatcher({
    ...(guard ? { guard } : {}),
    runtimes: { ensure: () => Promise.resolve(endpoint) },
    sign,
    logger: pino({ level: 'silent' }),
    callTimeoutMs: 5_000,
    onBreach: (breach) => {
      breaches.push(breach);
      return Promise.resolve();
    },
  });
}

function context(user: string): CallContext {
  return { tenant: 'acme', user, agent: 'agent-1', scopes: ['records:read'] };
}

/** Waits until `n` requests have arrived. */
async function arrived(n: number): Promise<Seen[]> {
  for (let i = 0; i < 500 && seen.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return seen;
}

describe('a forwarded request without an SDK client per call', () => {
  it("delivers each stream's progress and log messages to its own call only, under the caller's token", async () => {
    seen = [];
    // Both calls are held until both arrived; each stream then carries its own progress, a
    // progress forged under the other request's token, a log message, and its answer.
    script = async (entry, res) => {
      const all = await arrived(2);
      const other = all.find((s) => s !== entry);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const progress = (token: unknown, n: number) => ({
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken: token, progress: n, total: 10 },
      });
      sse(res, progress(entry.token, entry.id));
      sse(res, progress(other?.token, 1000 + entry.id));
      const log = { level: 'info', data: `log of ${entry.id}` };
      sse(res, { jsonrpc: '2.0', method: 'notifications/message', params: log });
      sse(res, result(entry.id, `answer to ${entry.id}`));
      res.end();
    };
    const d = dispatcher();
    const heard: Record<string, RelayedNotification[]> = { a: [], b: [] };
    const call = (who: 'a' | 'b', token: string) =>
      d.callTool(
        context(who),
        'records_list',
        { who },
        {
          progressToken: token,
          notify: (n) => {
            heard[who]?.push(n);
            return Promise.resolve();
          },
        },
      );
    const [a, b] = await Promise.all([call('a', 'token-a'), call('b', 'token-b')]);
    await d.close();
    const idOf = (who: string): number => seen.find((s) => s.body.includes(`"who":"${who}"`))?.id ?? -1;
    expect(a.content).toEqual([{ type: 'text', text: `answer to ${idOf('a')}` }]);
    expect(b.content).toEqual([{ type: 'text', text: `answer to ${idOf('b')}` }]);
    for (const who of ['a', 'b'] as const) {
      expect(heard[who]).toEqual([
        {
          method: 'notifications/progress',
          params: { progress: idOf(who), total: 10, progressToken: `token-${who}` },
        },
        { method: 'notifications/message', params: { level: 'info', data: `log of ${idOf(who)}` } },
      ]);
    }
  });

  it("signs every request with its own call's context over its own body", async () => {
    seen = [];
    script = async (entry, res) => {
      await arrived(2);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(result(entry.id, 'ok')));
    };
    const d = dispatcher();
    await Promise.all(['u1', 'u2'].map((user) => d.callTool(context(user), 'records_list', { user })));
    await d.close();
    expect(seen).toHaveLength(2);
    for (const entry of seen) {
      const { payload } = await jwtVerify(entry.assertion, publicKey, {
        audience: callAssertionAudience('acme'),
      });
      expect(payload.bh).toBe(bodyDigest(entry.body));
      expect(entry.body).toContain(`"user":"${String(payload.user)}"`);
    }
  });

  it("refuses an answer carrying another request's id: a malformed answer, reported, never retried", async () => {
    seen = [];
    script = (entry, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(result(entry.id + 1, 'not yours')));
    };
    const breaches: ReadBreach[] = [];
    const d = dispatcher(breaches);
    await expect(d.callTool(context('u1'), 'records_list', {})).rejects.toMatchObject({
      code: 'runtime_unavailable',
      failure: 'bound_exceeded',
    });
    await d.close();
    expect(seen).toHaveLength(1);
    expect(breaches.map((b) => b.kind)).toEqual(['malformed_response']);
  });

  it("a client's cancel closes the request's own stream at the runtime", async () => {
    seen = [];
    script = (_entry, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': working\n\n');
    };
    const d = dispatcher();
    const cancel = new AbortController();
    const call = d.callTool(context('u1'), 'records_list', {}, { signal: cancel.signal });
    const [entry] = await arrived(1);
    cancel.abort('the client cancelled');
    // The call ends at once (the runtime never answers), and the runtime sees its stream closed.
    await expect(call).rejects.toBeDefined();
    await entry?.cut;
    await d.close();
    expect(seen).toHaveLength(1);
  });

  it('a stream that ends without an answer fails the call as interrupted, never retried', async () => {
    seen = [];
    script = (_entry, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } });
      res.end();
    };
    const d = dispatcher();
    await expect(d.callTool(context('u1'), 'records_list', {})).rejects.toMatchObject({
      code: 'runtime_unavailable',
      failure: 'interrupted',
    });
    await d.close();
    expect(seen).toHaveLength(1);
  });

  it('passes a JSON-RPC error on as the protocol error it is', async () => {
    seen = [];
    script = (entry, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ jsonrpc: '2.0', id: entry.id, error: { code: -32602, message: 'bad params' } }),
      );
    };
    const d = dispatcher();
    await expect(d.forward(context('u1'), 'prompts/get', { name: 'p' })).rejects.toMatchObject({
      code: -32602,
    });
    await d.close();
    expect(seen).toHaveLength(1);
  });

  it('passes on a JSON-RPC error a runtime answers with a 404 (a method no pack serves)', async () => {
    seen = [];
    script = (entry, res) => {
      // What the SDK's handler in the runtime answers for a method it has no handler for.
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: entry.id,
          error: { code: -32601, message: 'Method not found' },
        }),
      );
    };
    const d = dispatcher();
    await expect(d.forward(context('u1'), 'resources/list', {})).rejects.toMatchObject({ code: -32601 });
    await d.close();
  });

  it("checks a new route's tool definitions with one signed tools/list, then calls; no server/discover", async () => {
    seen = [];
    script = (entry, res) => {
      const { method } = JSON.parse(entry.body) as { method: string };
      res.writeHead(200, { 'content-type': 'application/json' });
      const tools = RECORDS_TOOLS.map(wireTool);
      const answer = { jsonrpc: '2.0', id: entry.id, result: { resultType: 'complete', tools } };
      res.end(JSON.stringify(method === 'tools/list' ? answer : result(entry.id, 'ok')));
    };
    const guard = new DriftGuard({ approved: RECORDS_TOOLS, logger: pino({ level: 'silent' }) });
    const d = dispatcher([], guard);
    await d.callTool(context('u1'), 'records_list', {});
    await d.callTool(context('u2'), 'records_list', {});
    await d.close();
    const methods = seen.map((entry) => (JSON.parse(entry.body) as { method: string }).method);
    // The check runs once per route, before its first call; the second call finds it done.
    expect(methods).toEqual(['tools/list', 'tools/call', 'tools/call']);
    const { payload } = await jwtVerify(seen[0]!.assertion, publicKey, {
      audience: callAssertionAudience('acme'),
    });
    expect(payload.bh).toBe(bodyDigest(seen[0]!.body));
    expect(payload.user).toBe('u1');
    expect(guard.isWithheld('acme', 'records_list')).toBe(false);
  });

  it('a tools/list answered with anything but a complete tool list fails the call; the call is never sent', async () => {
    seen = [];
    // A valid answer of another kind: a multi-round-trip request for input instead of the tools.
    script = (entry, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const inputRequired = { resultType: 'input_required', requestState: 'x' };
      res.end(JSON.stringify({ jsonrpc: '2.0', id: entry.id, result: inputRequired }));
    };
    const guard = new DriftGuard({ approved: RECORDS_TOOLS, logger: pino({ level: 'silent' }) });
    const d = dispatcher([], guard);
    await expect(d.callTool(context('u1'), 'records_list', {})).rejects.toMatchObject({
      code: 'INVALID_RESULT',
    });
    await d.close();
    expect(seen.map((entry) => (JSON.parse(entry.body) as { method: string }).method)).toEqual([
      'tools/list',
    ]);
  });
});
