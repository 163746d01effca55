// The router's audit records (router/mcp/call-audit.ts), from a real request context: the trace id
// the context carries goes into the call and list records, the error class comes from the error
// table, units only when a result reports them; a record that cannot be written is logged in full,
// and counted (bulkhead_audit_unconfirmed_total).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ArgsDigester, argsDigest, argsDigestKey } from '../../kernel/audit/audit-record.ts';
import type { AuditEvent, AuditSink } from '../../kernel/audit/audit-trail.ts';
import { DEFAULT_DOCS_DIR } from '../../router/config.ts';
import { callRecord, listRecord, writeAudit } from '../../router/mcp/call-audit.ts';
import { RouterMetrics } from '../../router/metrics/router-metrics.ts';
import { buildRequestContext, type RequestContext } from '../../router/request/request-context.ts';
import { builtInSharedTools } from '../../router/tools/shared-registry.ts';
import { ToolSurface } from '../../router/tools/tool-surface.ts';
import { tenantRecord } from '../support/tenant.ts';
import { testPrincipal } from '../support/principal.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const lines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'info' },
  { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
);

function context(body: unknown, options: { registered: boolean } = { registered: true }): RequestContext {
  const surface = new ToolSurface({
    shared: builtInSharedTools({ docsDir: DEFAULT_DOCS_DIR }).map((m) => m.definition),
  });
  const built = buildRequestContext({
    principal: testPrincipal({ user: 'u1', scopes: [], expiresAt: 0 }),
    tenant: options.registered ? tenantRecord('acme') : undefined,
    body,
    surface,
    logger,
  });
  return { ...built, visible: () => built.visible(), traceId: TRACE };
}

const call = (name: string, args: unknown) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe('call audit records', () => {
  const digester = new ArgsDigester('secret');

  it('carry the trace id, the keyed digest, the error class and the units', () => {
    const ctx = context(call('whoami', { a: 1 }));
    const ok = callRecord(
      ctx,
      { name: 'whoami', args: { a: 1 }, code: undefined, latencyMs: 2.5, meta: { 'io.bulkhead/units': 3 } },
      { digester },
    );
    expect(ok).toMatchObject({
      tenant: 'acme',
      user: 'u1',
      agent: 'agent-1',
      tool: 'whoami',
      kind: 'call',
      status: 'ok',
      latency_ms: 2.5,
      units: 3,
      trace_id: TRACE,
      args_digest: argsDigest(argsDigestKey('secret', 'acme'), { a: 1 }),
    });
    expect(ok).not.toHaveProperty('error_class');
    const failed = callRecord(
      ctx,
      { name: 'whoami', args: {}, code: 'rate_limit_exceeded', latencyMs: 1 },
      { digester },
    );
    expect(failed).toMatchObject({
      status: 'error',
      error_code: 'rate_limit_exceeded',
      error_class: 'rate_limit',
    });
    expect(failed).not.toHaveProperty('units');
    expect(
      callRecord(ctx, { name: 'whoami', args: {}, code: 'internal', latencyMs: 1 }, {}).error_class,
    ).toBe('internal');
  });

  it('keep at most MCP’s longest tool name of a name the caller sent, in the record and the decision log', () => {
    const probe = 'x'.repeat(1024 * 1024);
    lines.length = 0;
    const ctx = context(call(probe, {}));
    const record = callRecord(
      ctx,
      { name: probe, args: {}, code: 'unknown_tool', latencyMs: 1 },
      { digester },
    );
    expect(record.tool).toBe(`${'x'.repeat(128)}...(1048576 chars)`);
    const decision = lines.find((line) => line.decision !== undefined);
    expect(decision?.tool).toBe(record.tool);
    const name = 'n'.repeat(128);
    expect(callRecord(ctx, { name, args: {}, code: undefined, latencyMs: 1 }, {}).tool).toBe(name);
  });

  it('digest no arguments as the HMAC of {} under the tenant key, and any argument anew', () => {
    const key = argsDigestKey('secret', 'acme');
    const none = argsDigest(key, {});
    for (const args of [{}, undefined, null, { idempotency_key: 'k1' }, { idempotency_key: 'k2' }])
      expect(digester.digest('acme', args)).toBe(none);
    expect(digester.digest('other', {})).toBe(argsDigest(argsDigestKey('secret', 'other'), {}));
    expect(digester.digest('other', {})).not.toBe(none);
    for (const args of [{ a: 1 }, { a: 2 }, [], { idempotency_key: 'k1', a: 1 }])
      expect(digester.digest('acme', args)).toBe(argsDigest(key, args));
    expect(digester.digest('acme', { a: 1 })).not.toBe(none);
    // An inherited property is no argument (canonicalJson reads own properties only).
    expect(digester.digest('acme', Object.create({ a: 1 }) as object)).toBe(none);
  });

  it('list what was listed and what was withheld, with the trace id', () => {
    const ctx = context({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const record = listRecord(ctx, ['whoami']);
    expect(record).toMatchObject({ kind: 'list', tool: 'tools/list', listed: ['whoami'], trace_id: TRACE });
    expect(record.withheld).toEqual(ctx.served.map((t) => t.definition.name).filter((n) => n !== 'whoami'));
  });

  it('log a record whole when the trail does not take it, or not in time, and count it', async () => {
    const metrics = new RouterMetrics();
    const unconfirmed = async () =>
      (await metrics.registry.getSingleMetric('bulkhead_audit_unconfirmed_total')?.get())?.values[0]?.value;
    const state = { deadlineMs: 50, failOpenSharedReads: false };
    const failing: AuditSink = { append: (_event: AuditEvent) => Promise.reject(new Error('redis down')) };
    const ctx = context(call('whoami', {}));
    const record = listRecord(ctx, []);
    await writeAudit(ctx, { audit: failing, state, metrics }, record);
    expect(lines.at(-1)).toMatchObject({ level: 50, audit: { kind: 'list', trace_id: TRACE } });
    expect(await unconfirmed()).toBe(1);
    const silent: AuditSink = { append: (_event: AuditEvent) => new Promise<void>(() => undefined) };
    await writeAudit(ctx, { audit: silent, state, metrics }, record);
    expect(await unconfirmed()).toBe(2);
    const taken: AuditSink = { append: (_event: AuditEvent) => Promise.resolve() };
    await writeAudit(ctx, { audit: taken, state, metrics }, record);
    expect(await unconfirmed()).toBe(2);
  });

  it('start no trail for a tenant the registry does not have (offboarded, or never onboarded)', async () => {
    const appended: AuditEvent[] = [];
    const sink: AuditSink = {
      append: (event: AuditEvent) => {
        appended.push(event);
        return Promise.resolve();
      },
    };
    const gone = context(call('no_such_tool', {}), { registered: false });
    const record = callRecord(
      gone,
      { name: 'no_such_tool', args: {}, code: 'unknown_tool', latencyMs: 1 },
      {},
    );
    await writeAudit(gone, { audit: sink }, record);
    expect(appended).toEqual([]);
    // Logged instead, whole.
    expect(lines.at(-1)).toMatchObject({ level: 30, audit: { tenant: 'acme', error_code: 'unknown_tool' } });
    const live = context(call('no_such_tool', {}));
    await writeAudit(live, { audit: sink }, record);
    expect(appended).toEqual([record]);
  });

  it('log a record whole when the sink throws instead of rejecting, and settle', async () => {
    const throwing: AuditSink = {
      append: (_event: AuditEvent) => {
        throw new Error('sink broke');
      },
    };
    const ctx = context(call('whoami', {}));
    const record = listRecord(ctx, []);
    await expect(writeAudit(ctx, { audit: throwing }, record)).resolves.toBeUndefined();
    expect(lines.at(-1)).toMatchObject({ level: 50, audit: { kind: 'list', trace_id: TRACE } });
  });
});
