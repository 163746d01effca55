// How a call's Redis steps overlap the SDK's own work, through the router's real app and real Redis
// (docs/performance-one-connection.md):
// - The tools/call's admission (validation, then the rate-limit take) starts as the endpoint hands
//   the request to the SDK (router/mcp/router-server.ts, admitEarly): each call is charged once, and
//   a call the router refuses before running anything (a 2025 session that is gone, a tool the
//   caller may not use, arguments that fail validation) is charged nothing.
// - A request whose client is the only one the router hears from sends its Redis steps at once
//   (router/http/connection-activity.ts): requests one at a time, on one connection or several; one
//   while another connection's is in progress does not, nor one soon after.
// - An answered call is an audited call: an answer does not reach the client before the audit
//   record of what it answers is settled (router/request/answer-hold.ts), in both protocol eras (a
//   2026-07-28 JSON answer, and a 2025 session's SSE answer, which the SDK hands over before the
//   tool has run). The audit sink is a fake at our own port that can hold its appends.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, AuditSink } from '../../kernel/audit/audit-trail.ts';
import type { FlushRequest } from '../../kernel/redis/flush-timing.ts';
import { Agent } from 'undici';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import type { Quotas } from '../../kernel/tenant/tenant-spec.ts';
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

/** While `holding`, appends wait until `release()`; `appended` holds what was asked for, in order. */
class HeldAudit implements AuditSink {
  readonly appended: AuditEvent[] = [];
  /** Each append's `alone` (kernel/redis/flush-timing.ts), in the same order. */
  readonly alone: (boolean | undefined)[] = [];
  holding = false;
  #waiting: (() => void)[] = [];
  append(event: AuditEvent, request?: FlushRequest): Promise<void> {
    this.appended.push(event);
    this.alone.push(request?.alone);
    if (!this.holding) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

let keyholder: KeyHolder;
let router: Awaited<ReturnType<typeof startAuthRouter>>;
let mcpUrl: string;
const audit = new HeldAudit();

beforeAll(async () => {
  keyholder = await keyHoldingIssuer();
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const tenant = (id: string, quotas?: Quotas) =>
    tenantRecord(id, {
      issuers: [{ issuer: keyholder.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
      tools: openToAgentsAlone(['whoami']),
      roles: defaultRoles(),
      ...(quotas ? { quotas } : {}),
    });
  // The day's budget is what the admission test reads: 100 a day gives one back every 14 min, so
  // nothing refills between its calls (the minute's would give one back every second).
  const tenants = new MemoryTenants([
    tenant('hold'),
    tenant('admit', {
      callsPerMinute: 600,
      callsPerDay: 100,
      agentCallsPerMinute: 600,
      userCallsPerMinute: 600,
    }),
  ]);
  router = await startAuthRouter({
    port,
    issuers: [{ issuer: keyholder.issuer }],
    tenants,
    logger: pino({ level: 'silent' }),
    observability: { audit },
    // Long enough that "two requests were in progress together" still holds for the later requests.
    connectionQuietMs: 600_000,
  });
});

afterAll(async () => {
  audit.holding = false;
  audit.release();
  await router?.close();
  await keyholder?.close();
});

const token = (tenant = 'hold') =>
  keyholder.sign(agentClaims({ issuer: keyholder.issuer, audience: mcpUrl, agent: 'overlap-agent', tenant }));

const WHOAMI = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };

/** Whether `answer` settles within `ms`: it must not while its record is held. */
async function settlesWithin(answer: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([answer.then(() => true), timeout]);
  clearTimeout(timer);
  return settled;
}

async function untilAppended(count: number): Promise<void> {
  for (let i = 0; i < 200 && audit.appended.length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  expect(audit.appended).toHaveLength(count);
}

describe('a request whose client is the only one the router hears from', () => {
  it('sends its Redis steps at once, one request at a time on any connection; not while another is in progress, nor after', async () => {
    // This file's first requests: none was in progress with another yet.
    audit.holding = false;
    const [a, b] = [new Agent({ connections: 1 }), new Agent({ connections: 1 })];
    try {
      const from = audit.alone.length;
      await mcpPost(mcpUrl, await token(), WHOAMI, { connection: a });
      await mcpPost(mcpUrl, await token(), WHOAMI, { connection: a });
      await mcpPost(mcpUrl, await token(), WHOAMI, { connection: b });
      // a's call held in progress (its record not written), b's comes meanwhile.
      audit.holding = true;
      const held = mcpPost(mcpUrl, await token(), WHOAMI, { connection: a });
      await untilAppended(from + 4);
      const meanwhile = mcpPost(mcpUrl, await token(), WHOAMI, { connection: b });
      await untilAppended(from + 5);
      audit.holding = false;
      audit.release();
      await Promise.all([held, meanwhile]);
      // Both answered; two were in progress together within the window (600 s here).
      await mcpPost(mcpUrl, await token(), WHOAMI, { connection: a });
      expect(audit.alone.slice(from)).toEqual([true, true, true, true, false, false]);
    } finally {
      audit.holding = false;
      audit.release();
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('the answer waits for its audit record', () => {
  it('holds a 2026-07-28 tools/call and tools/list answer until its record is settled', async () => {
    audit.holding = true;
    const before = audit.appended.length;
    const call = mcpPost(mcpUrl, await token(), {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'whoami', arguments: {} },
    });
    await untilAppended(before + 1);
    expect(audit.appended.at(-1)).toMatchObject({ tool: 'whoami', kind: 'call', status: 'ok' });
    expect(await settlesWithin(call, 300)).toBe(false);
    audit.release();
    const answered = await call;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toMatchObject({
      id: 7,
      result: { structuredContent: { tenant: 'hold' } },
    });

    const list = mcpPost(mcpUrl, await token());
    await untilAppended(before + 2);
    expect(audit.appended.at(-1)).toMatchObject({ tool: 'tools/list', kind: 'list' });
    expect(await settlesWithin(list, 300)).toBe(false);
    audit.release();
    const listed = JSON.parse((await list).body) as { result: { tools: { name: string }[] } };
    expect(listed.result.tools.map((t) => t.name)).toContain('whoami');
  });

  it("holds a 2025 session's SSE answer until its record is settled", async () => {
    audit.holding = true;
    const headers = {
      authorization: `Bearer ${await token()}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const init = await fetch(mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'hold', version: '1' },
        },
      }),
    });
    expect(init.status).toBe(200);
    await init.text();
    const session = init.headers.get('mcp-session-id');
    expect(session).toBeTruthy();
    const inSession = { ...headers, 'mcp-session-id': session ?? '', 'mcp-protocol-version': '2025-11-25' };

    const before = audit.appended.length;
    // The SSE answer's headers are written with its first chunk: the whole answer is what waits.
    const answer = fetch(mcpUrl, {
      method: 'POST',
      headers: inSession,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      }),
    }).then(async (response) => ({
      type: response.headers.get('content-type'),
      body: await response.text(),
    }));
    await untilAppended(before + 1);
    expect(audit.appended.at(-1)).toMatchObject({ tool: 'whoami', kind: 'call', status: 'ok' });
    expect(await settlesWithin(answer, 300)).toBe(false);
    audit.release();
    const { type, body } = await answer;
    expect(type).toContain('text/event-stream');
    expect(body).toMatch(/"result":.*"id":2/s);
  });
});

const call = (name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** The admission tenant's day budget left after one whoami, read from the answer's budget `_meta`. */
async function remainingAfterWhoami(): Promise<number> {
  const answer = await mcpPost(mcpUrl, await token('admit'), call('whoami'));
  const body = JSON.parse(answer.body) as {
    result: { _meta: Record<string, { tenant_day: { remaining: number } }> };
  };
  return body.result._meta[BUDGET_META_KEY]!.tenant_day.remaining;
}

describe('a call admitted as the endpoint hands it to the SDK', () => {
  it('is charged once, and a refusal before anything runs charges nothing', async () => {
    audit.holding = false;
    const first = await remainingAfterWhoami();
    expect(await remainingAfterWhoami()).toBe(first - 1);

    // A tool the caller may not use: unknown to it, refused before anything runs.
    const unknown = await mcpPost(mcpUrl, await token('admit'), call('records_create', { title: 'x' }));
    expect(unknown.body).toContain('Unknown tool');
    // Arguments the tool's schema refuses: a validation error, answered in-process.
    const invalid = await mcpPost(mcpUrl, await token('admit'), call('whoami', { extra: true }));
    expect(JSON.parse(invalid.body)).toMatchObject({ result: { isError: true } });
    expect(await remainingAfterWhoami()).toBe(first - 2);

    // A 2025 session that is gone: refused (404) after the session check, before any admission.
    const gone = await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token('admit')}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': 'no-such-session',
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify(call('whoami')),
    });
    expect(gone.status).toBe(404);
    await gone.text();
    expect(await remainingAfterWhoami()).toBe(first - 3);
  });
});
