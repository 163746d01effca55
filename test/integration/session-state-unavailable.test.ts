// A 2025 session's steps in Redis when Redis does not answer: the session check of a request is
// answered `state_unavailable` (503 with Retry-After, transient: ask again), and so must the other
// steps a stock client meets: opening a session (`initialize`), ending one (DELETE) and, inside its
// answer, setting its log level (`logging/setLevel`). Before, a failed opening or ending came back
// as the Node adapter's 500 "Internal server error", which a client takes for a broken server, not
// one to ask again in a second, and a failed setLevel as an internal error in the Redis client's
// words. Through the router's real app, its Redis a redis-server of the test's own behind a relay
// that can go silent (frozen: connections open, no answers), read with the router's own Redis
// options (router/pipeline/state-guard.ts).
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateRedis } from '../../router/pipeline/state-guard.ts';
import {
  agentClaims,
  keyHoldingIssuer,
  MemoryTenants,
  startAuthRouter,
  whoamiTenant,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { startRelayedRedis, type RelayedRedis } from '../support/freezing-proxy.ts';
import { freePort } from '../support/stack.ts';

const TENANT = 'frozen-sessions';

let relayed: RelayedRedis;
let client: StateRedis;
let keyholder: KeyHolder;
let router: Awaited<ReturnType<typeof startAuthRouter>>;
let token: string;

beforeAll(async () => {
  relayed = await startRelayedRedis('session-state');
  const options = { path: relayed.proxy.socketPath, password: relayed.password, lazyConnect: true };
  client = new StateRedis(options, { deadlineMs: 300 });
  client.on('error', () => undefined);
  await client.connect();
  keyholder = await keyHoldingIssuer();
  const port = await freePort();
  router = await startAuthRouter({
    port,
    issuers: [{ issuer: keyholder.issuer }],
    tenants: new MemoryTenants([whoamiTenant(TENANT, keyholder)]),
    logger: pino({ level: 'silent' }),
    redis: client,
  });
  token = await keyholder.sign(
    agentClaims({ issuer: keyholder.issuer, audience: router.mcpUrl, agent: 'agent-1', tenant: TENANT }),
  );
});

afterAll(async () => {
  relayed?.proxy.thaw();
  await router?.close();
  client?.disconnect();
  await keyholder?.close();
  await relayed?.close();
});

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'frozen', version: '1' } },
};

/**
 * One 2025 request as a stock client sends it: its status, session header, Retry-After and JSON-RPC
 * error (its code, and the router's structured error code in its data), in a JSON or an SSE answer.
 */
async function send(method: 'POST' | 'DELETE', session?: string, body: unknown = INITIALIZE) {
  const response = await fetch(router.mcpUrl, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      ...(session === undefined ? {} : { 'mcp-session-id': session }),
    },
    ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  const streamed = response.headers.get('content-type')?.startsWith('text/event-stream');
  const json = streamed ? /^data: (.*)$/m.exec(text)?.[1] : text;
  const error = json
    ? (JSON.parse(json) as { error?: { code?: number; data?: { code?: string } } }).error
    : undefined;
  return {
    status: response.status,
    session: response.headers.get('mcp-session-id'),
    retryAfter: response.headers.get('retry-after'),
    code: error?.code,
    refusal: error?.data?.code,
  };
}

/** What each step answers while Redis is silent: 503 and JSON-RPC -32000, ask again in a second. */
const UNAVAILABLE = { status: 503, session: null, retryAfter: '1', code: -32000 };
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

describe("a 2025 session's Redis not answering", () => {
  it('answers initialize and the session check state_unavailable, and the session outlives it', async () => {
    const opened = await send('POST');
    expect(opened).toMatchObject({ status: 200 });
    const session = opened.session!;
    relayed.server.freeze();
    const unanswered = { initialize: await send('POST'), request: await send('POST', session, LIST) };
    relayed.server.thaw();
    expect(unanswered).toEqual({ initialize: UNAVAILABLE, request: UNAVAILABLE });
    // Nothing was ended: the session answers once Redis does.
    expect(await send('POST', session, LIST)).toMatchObject({ status: 200 });
  });

  it('answers a DELETE whose ending Redis does not confirm state_unavailable', async () => {
    const session = (await send('POST')).session!;
    // The session check is answered; the command that ends the session is not.
    relayed.proxy.freezeAt('zrem');
    const deleted = await send('DELETE', session);
    relayed.proxy.thaw();
    expect(deleted).toEqual(UNAVAILABLE);
  });

  // Answered inside the request's stream: the SDK's -32603 "Command timed out" before, the Redis
  // client's own words, where every other Redis step of a request is `state_unavailable`.
  it('answers a logging/setLevel whose write Redis does not answer state_unavailable', async () => {
    const session = (await send('POST')).session!;
    relayed.proxy.freezeAt('KEEPTTL');
    const level = { jsonrpc: '2.0', id: 3, method: 'logging/setLevel', params: { level: 'error' } };
    const set = await send('POST', session, level);
    relayed.proxy.thaw();
    expect(set).toMatchObject({ status: 200, code: -32000, refusal: 'state_unavailable' });
  });
});
