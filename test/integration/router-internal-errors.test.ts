// What an agent is told when a tools/call fails inside the router itself (here an operator's shared
// tool, BULKHEAD_SHARED_TOOL_MODULES, whose handler throws): a JSON-RPC internal error and nothing
// of the failure's message, which may name the router's files, hosts or other tenants; the router's
// log keeps it. Before, the SDK answered with the thrown message as it was.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_TOOLS } from '../../kernel/packs/manifest.ts';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import {
  agentClaims,
  keyHoldingIssuer,
  mcpPost,
  MemoryTenants,
  startAuthRouter,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';

const FAILURE = "ENOENT: no such file or directory, open '/etc/bulkhead/ops/tenant-bravo.json'";
const logged: Record<string, unknown>[] = [];

let mcpUrl: string;
let keyholder: KeyHolder;
let router: Awaited<ReturnType<typeof startAuthRouter>>;

beforeAll(async () => {
  keyholder = await keyHoldingIssuer();
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const alpha = tenantRecord('alpha', {
    issuers: [{ issuer: keyholder.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
    tools: openToAgentsAlone(['whoami']),
    roles: defaultRoles(),
  });
  const ops = { ...SHARED_TOOLS[0]!, name: 'ops_lookup', title: 'Ops lookup', description: 'Look up.' };
  router = await startAuthRouter({
    port,
    issuers: [{ issuer: keyholder.issuer }],
    tenants: new MemoryTenants([alpha]),
    logger: pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line) as never) }),
    sharedTools: [{ definition: ops, handler: () => Promise.reject(new Error(FAILURE)) }],
  });
});

afterAll(async () => {
  await router?.close();
  await keyholder?.close();
});

/** A tools/call of `name` by the tenant's agent, as a stock 2026-07-28 client sends it. */
async function call(id: number, name: string) {
  const claims = agentClaims({
    issuer: keyholder.issuer,
    audience: mcpUrl,
    agent: 'alpha-agent',
    tenant: 'alpha',
  });
  const token = await keyholder.sign(claims);
  return mcpPost(mcpUrl, token, {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: {} },
  });
}

describe('a tools/call that fails inside the router', () => {
  it('is answered as an internal error without its message, which the log keeps', async () => {
    const answer = await call(7, 'ops_lookup');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32603, message: 'Internal error' },
    });
    expect(answer.body).not.toMatch(/bravo|\/etc\/|ENOENT/);
    expect(logged).toContainEqual(
      expect.objectContaining({ tool: 'ops_lookup', err: expect.objectContaining({ message: FAILURE }) }),
    );
  });

  it('still answers a refusal of its own with its structured error', async () => {
    const answer = await call(8, 'no_such_tool');
    expect(JSON.parse(answer.body)).toMatchObject({
      id: 8,
      error: { message: 'Unknown tool: no_such_tool', data: { code: 'unknown_tool' } },
    });
  });
});
