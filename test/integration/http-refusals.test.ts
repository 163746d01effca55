// What the router's /mcp listener refuses on the wire before any MCP handling, sent raw (a stock
// client cannot send these requests: fetch folds repeated headers into one line, and refuses to
// send a malformed one). The token is a real one of the development IdP, so a refusal can only
// come from the check under test. Every refusal is a structured JSON-RPC error, never an empty
// answer or a page.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { MemoryTenants, rawMcpPost, startAuthRouter, type RawAnswer } from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';

const INITIAL_ACCESS_TOKEN = 'http-refusals-initial-access-token-0123';
const logger = pino({ level: 'silent' });

let mcpUrl: string;
let idp: StartedDevIdp;
let router: Awaited<ReturnType<typeof startAuthRouter>>;
let token: string;

/** The body is a JSON-RPC error of the router's (id null, a code and a message). */
function expectJsonRpcError(answer: RawAnswer, message: RegExp): void {
  expect(answer.headers).toMatch(/content-type: application\/json/i);
  // Chunked or not, the JSON object is the body's one line that starts with `{`.
  const json = answer.body.split('\r\n').find((line) => line.startsWith('{'));
  expect(json, answer.headers + answer.body).toBeDefined();
  const parsed = JSON.parse(json!) as {
    jsonrpc: string;
    id: unknown;
    error: { code: number; message: string };
  };
  expect(parsed).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: expect.any(Number) } });
  expect(parsed.error.message).toMatch(message);
}

beforeAll(async () => {
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  idp = await startDevIdp({
    port: 0,
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    logger,
    resources: [{ url: mcpUrl, scopes: ['records:read'] }],
  });
  router = await startAuthRouter({
    port,
    issuers: [{ issuer: idp.issuer }],
    tenants: new MemoryTenants([
      tenantRecord('alpha', {
        issuers: [{ issuer: idp.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
        tools: openToAgentsAlone(['whoami']),
        roles: defaultRoles(),
      }),
    ]),
    logger,
  });
  const agent = await registerAgentClient({
    issuer: idp.issuer,
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    tenant: 'alpha',
    scopes: ['records:read'],
    clientName: 'http-refusals agent',
  });
  token = await mintClientCredentialsToken({
    issuer: idp.issuer,
    ...agent,
    resource: mcpUrl,
    scope: 'records:read',
  });
});

afterAll(async () => {
  await router?.close();
  await idp?.close();
});

describe('more than one Host header', () => {
  it('refuses the request (400), whichever Host comes first', async () => {
    const host = new URL(mcpUrl).host;
    const authorization = `Authorization: Bearer ${token}`;
    // The control: the same request with one Host is served.
    const control = await rawMcpPost(mcpUrl, [`Host: ${host}`, authorization]);
    expect(control.status, control.body).toBe(200);
    expect(control.body).toContain('whoami');
    // Node keeps the first of repeated Host headers; a proxy in front may route by the last.
    for (const hosts of [
      [host, 'attacker.example'],
      ['attacker.example', host],
      [host, host],
    ]) {
      const answer = await rawMcpPost(mcpUrl, [...hosts.map((h) => `Host: ${h}`), authorization]);
      expect(answer.status, `${hosts.join(' + ')}: ${answer.body}`).toBe(400);
      expectJsonRpcError(answer, /Host/);
    }
  });
});

describe("requests Node's HTTP parser refuses", () => {
  it('answers a token longer than the header bound with 431 and a JSON-RPC error', async () => {
    const host = `Host: ${new URL(mcpUrl).host}`;
    const answer = await rawMcpPost(mcpUrl, [host, `Authorization: Bearer ${'a'.repeat(20_000)}`]);
    expect(answer.status).toBe(431);
    expectJsonRpcError(answer, /header/i);
  });

  it('answers malformed framing (Content-Length with Transfer-Encoding) with 400 and a JSON-RPC error', async () => {
    const host = `Host: ${new URL(mcpUrl).host}`;
    const answer = await rawMcpPost(
      mcpUrl,
      [host, `Authorization: Bearer ${token}`],
      ['Transfer-Encoding: chunked'],
    );
    expect(answer.status).toBe(400);
    expectJsonRpcError(answer, /malformed/i);
  });
});
