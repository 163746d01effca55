// One request context per HTTP call: through the router's real app (real verifier, real MCP SDK
// handlers, a loopback issuer), a tools/call parses its body once, reads the tenant record once (in
// the token verifier, for the issuer binding) and makes and logs one authorization decision; the
// served surface is computed once. Fakes only at our own ports: the tenant lookup and the tool
// surface count their calls, the decision log is read from the logger.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ERROR_CODES } from '../../kernel/errors/error-codes.ts';
import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { createApp } from '../../router/app.ts';
import { createTokenVerifier } from '../../router/auth/token-verifier.ts';
import { DEFAULT_DOCS_DIR } from '../../router/config.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { SessionStore } from '../../router/mcp/sessions.ts';
import { IdempotencyStore } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import { buildRequestContext } from '../../router/request/request-context.ts';
import type { TenantLookup } from '../../router/tenancy/tenant-directory.ts';
import { builtInSharedTools } from '../../router/tools/shared-registry.ts';
import { ToolSurface, type ServedTool } from '../../router/tools/tool-surface.ts';
import { closeServer, keyHoldingIssuer, listen, mcpPost, type KeyHolder } from '../support/auth-harness.ts';
import { tenantRecord } from '../support/tenant.ts';

class CountingTenants implements TenantLookup {
  reads = 0;
  readonly records = new Map<string, TenantRecord>();
  get(id: string): Promise<TenantRecord | undefined> {
    this.reads += 1;
    return Promise.resolve(this.records.get(id));
  }
}

class CountingSurface extends ToolSurface {
  computed = 0;
  override forTenant(tenant: TenantRecord | undefined): readonly ServedTool[] {
    this.computed += 1;
    return super.forTenant(tenant);
  }
}

const TENANT = 'acme';
const shared = builtInSharedTools({ docsDir: DEFAULT_DOCS_DIR });
const tenants = new CountingTenants();
const surface = new CountingSurface({ shared: shared.map((m) => m.definition) });
const decisions: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'info' },
  {
    write(line: string) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry['msg'] === 'authorization decision') decisions.push(entry);
    },
  },
);
// Never connected: the requests here open no 2025 session and run no tenant tool.
const redis = new Redis({ lazyConnect: true });
let issuer: KeyHolder;
let server: Server;
let mcpUrl: string;
let verify: ReturnType<typeof createTokenVerifier> = () => Promise.reject(new Error('not ready'));

async function token(scope: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return issuer.sign({
    iss: issuer.issuer,
    aud: mcpUrl,
    tenant: TENANT,
    client_id: 'agent-1',
    scope,
    iat: now,
    exp: now + 120,
    jti: randomBytes(8).toString('hex'),
  });
}

function resetCounts(): void {
  tenants.reads = 0;
  surface.computed = 0;
  decisions.length = 0;
}

beforeAll(async () => {
  issuer = await keyHoldingIssuer();
  tenants.records.set(TENANT, tenantRecord(TENANT, { tools: openToAgentsAlone(['records_list']) }));
  const prefix = `bulkhead:t-ctx-${randomBytes(3).toString('hex')}`;
  const app = createApp({
    resourceUrl: 'http://127.0.0.1/mcp',
    authorizationServers: [issuer.issuer],
    scopesSupported: () => ALL_SCOPES,
    // The audience is set once the port is known (below): the verifier reads it per call.
    verify: (raw) => verify(raw),
    surface,
    // No pack is approved here: no prompts either.
    prompts: { promptsFor: () => new Map() },
    sharedHandlers: new Map(shared.map((m) => [m.definition.name, m.handler])),
    idempotency: new IdempotencyStore({
      redis,
      prefix,
      sealer: new RecordSealer('request context test secret'),
    }),
    limiter: new RateLimiter({ redis, prefix }),
    sessions: new SessionStore({ redis, prefix, idleTtlSeconds: 60 }),
    dispatcher: new TenantDispatcher({
      runtimes: { ensure: () => Promise.reject(new Error('no tenant runtime in this test')) },
      sign: () => Promise.reject(new Error('no tenant runtime in this test')),
      logger,
    }),
    originPolicy: { allowedOrigins: [], allowedHosts: ['127.0.0.1'] },
    maxBodyBytes: 64 * 1024,
    logger,
  });
  server = app.listen(0, '127.0.0.1');
  mcpUrl = `${await listen(server)}/mcp`;
  verify = createTokenVerifier({
    issuers: [{ issuer: issuer.issuer, tenantClaim: 'tenant', jwksUri: `${issuer.issuer}/jwks` }],
    audience: mcpUrl,
    algorithms: ['ES256'],
    clockToleranceSeconds: 5,
    tenants,
  });
});

afterAll(async () => {
  await closeServer(server);
  await issuer.close();
  redis.disconnect();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('one request context per HTTP call', () => {
  it('a tools/call: one parse of the body, one tenant read, one decision, one served surface', async () => {
    const bearer = await token('records:read');
    resetCounts();
    const parse = vi.spyOn(JSON, 'parse');
    const answer = await mcpPost(mcpUrl, bearer, {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'whoami', arguments: {} },
    });
    // The request body, not a log line (the decision log is parsed by this test's own logger).
    const bodyParses = parse.mock.calls.filter(([text]) =>
      String(text).startsWith('{"jsonrpc":"2.0","id":7,'),
    );
    parse.mockRestore();
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).toContain('agent-1');
    expect(bodyParses).toHaveLength(1);
    expect(tenants.reads).toBe(1);
    expect(surface.computed).toBe(1);
    expect(decisions).toEqual([
      expect.objectContaining({ tenant: TENANT, tool: 'whoami', decision: 'permit' }),
    ]);
  });

  it('a step-up: the same one decision answers 403 before any MCP handler runs', async () => {
    const bearer = await token('');
    resetCounts();
    const answer = await mcpPost(mcpUrl, bearer, {
      jsonrpc: '2.0',
      id: 8,
      method: 'tools/call',
      params: { name: 'records_list', arguments: {} },
    });
    expect(answer.status).toBe(403);
    expect(answer.challenge).toMatch(/^Bearer error="insufficient_scope", scope="records:read", /);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'insufficient_scope', scope: 'records:read' });
    expect(tenants.reads).toBe(1);
    expect(decisions).toEqual([
      expect.objectContaining({ tool: 'records_list', decision: 'deny', reason: 'insufficient_scope' }),
    ]);
  });

  it('a tools/list: one tenant read, one served surface, no call decision logged', async () => {
    const bearer = await token('records:read');
    resetCounts();
    const answer = await mcpPost(mcpUrl, bearer);
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).toContain('records_list');
    expect(tenants.reads).toBe(1);
    expect(surface.computed).toBe(1);
    expect(decisions).toEqual([]);
  });

  it('a body over the bound: 413 with the JSON-RPC code of body_too_large, nothing verified past it', async () => {
    const bearer = await token('records:read');
    resetCounts();
    const answer = await mcpPost(mcpUrl, bearer, {
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: { name: 'whoami', arguments: { padding: 'x'.repeat(128 * 1024) } },
    });
    // The Node adapter's one size check answers as the table's row says.
    expect(answer.status).toBe(ERROR_CODES.body_too_large.http);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: ERROR_CODES.body_too_large.jsonRpc } });
    expect(surface.computed).toBe(0);
    expect(decisions).toEqual([]);
  });
});

describe('buildRequestContext', () => {
  it('decides each tool once: visible() reuses the call decision and is memoized', () => {
    const tenant = tenantRecord(TENANT, { tools: openToAgentsAlone(['records_list']) });
    surface.computed = 0;
    decisions.length = 0;
    const context = buildRequestContext({
      principal: {
        tenant: TENANT,
        user: null,
        agent: 'agent-1',
        actors: [],
        scopes: ['records:read'],
        roles: [],
        issuer: 'https://issuer.example',
        tokenId: undefined,
        expiresAt: 0,
      },
      tenant,
      body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'records_list' } },
      surface,
      logger,
    });
    expect(context.call).toMatchObject({ name: 'records_list', decision: { permit: true } });
    expect(context.call?.tool?.definition.name).toBe('records_list');
    expect(context.visible()).toBe(context.visible());
    expect(context.visible().map((t) => t.definition.name)).toContain('records_list');
    expect(surface.computed).toBe(1);
    expect(decisions).toHaveLength(1);
  });
});
