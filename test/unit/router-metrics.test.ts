// The router's metrics on their own: the tenant label only when enabled, an unexpected code counted
// as `internal`, the drift guard's withheld/restored events counted once per change, and relayed
// requests counted by method and outcome apart from tool calls. The code recorded of a structured
// error: the router's own as built, a tenant runtime's only where a runtime may answer with it.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { missingCapabilityErrorFor, protocolErrorFor } from '../../router/mcp/json-rpc.ts';
import { errorCodeIn, RouterMetrics, UNKNOWN_TOOL } from '../../router/metrics/router-metrics.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { parseExposition, total } from '../support/prometheus-text.ts';

async function samples(metrics: RouterMetrics) {
  return parseExposition(await metrics.registry.metrics());
}

describe('RouterMetrics', () => {
  it('has no tenant label unless the operator enables it', async () => {
    const plain = new RouterMetrics();
    const labelled = new RouterMetrics({ tenantLabel: true });
    for (const m of [plain, labelled]) {
      m.callAnswered({ tenant: 'acme', tool: 'records_get' }, undefined, 0.01);
      m.validationFailed({ tenant: 'acme', tool: 'records_get' });
    }
    expect((await samples(plain)).some((s) => 'tenant' in s.labels)).toBe(false);
    const withTenant = await samples(labelled);
    expect(total(withTenant, 'bulkhead_tool_calls_total', { tenant: 'acme', outcome: 'ok' })).toBe(1);
    expect(total(withTenant, 'bulkhead_tool_validation_failures_total', { tenant: 'acme' })).toBe(1);
  });

  it('maps codes to their class; a code outside the table is internal', async () => {
    const m = new RouterMetrics();
    m.callAnswered({ tenant: 't', tool: UNKNOWN_TOOL }, 'unknown_tool', 0.001);
    m.callAnswered({ tenant: 't', tool: 'records_get' }, 'runtime_unavailable', 0.5);
    m.callAnswered({ tenant: 't', tool: 'records_get' }, 'something else', 0.5);
    const s = await samples(m);
    expect(
      total(s, 'bulkhead_tool_calls_total', { outcome: 'unknown_tool', error_class: 'validation' }),
    ).toBe(1);
    expect(
      total(s, 'bulkhead_tool_calls_total', { outcome: 'runtime_unavailable', error_class: 'transient' }),
    ).toBe(1);
    expect(total(s, 'bulkhead_tool_calls_total', { error_class: 'internal' })).toBe(1);
    expect(total(s, 'bulkhead_tool_call_duration_seconds_count', { tool: 'records_get' })).toBe(2);
  });

  it('counts relayed requests by method, outcome and class, apart from tool calls; tenant only when enabled', async () => {
    const plain = new RouterMetrics();
    const labelled = new RouterMetrics({ tenantLabel: true });
    for (const m of [plain, labelled]) {
      m.relayAnswered({ tenant: 'acme', method: 'prompts/get' }, undefined, 0.01);
      m.relayAnswered({ tenant: 'acme', method: 'prompts/get' }, 'unknown_prompt', 0.001);
      m.relayAnswered({ tenant: 'acme', method: 'resources/read' }, 'something else', 0.2);
    }
    const s = await samples(plain);
    expect(s.some((sample) => 'tenant' in sample.labels)).toBe(false);
    const relayed = (labels: Record<string, string>) => total(s, 'bulkhead_relayed_requests_total', labels);
    expect(relayed({ method: 'prompts/get', outcome: 'ok', error_class: 'none' })).toBe(1);
    expect(relayed({ method: 'prompts/get', outcome: 'unknown_prompt', error_class: 'validation' })).toBe(1);
    expect(relayed({ method: 'resources/read', outcome: 'something else', error_class: 'internal' })).toBe(1);
    expect(total(s, 'bulkhead_relayed_request_duration_seconds_count', { method: 'prompts/get' })).toBe(2);
    expect(
      total(s, 'bulkhead_relayed_request_duration_seconds_sum', { method: 'resources/read' }),
    ).toBeCloseTo(0.2);
    expect(total(s, 'bulkhead_tool_calls_total')).toBe(0);
    const withTenant = await samples(labelled);
    expect(total(withTenant, 'bulkhead_relayed_requests_total', { tenant: 'acme' })).toBe(3);
    expect(total(withTenant, 'bulkhead_relayed_request_duration_seconds_count', { tenant: 'acme' })).toBe(3);
  });

  it("records a structured error's code as the router's only where this router built it", () => {
    const own = toolError('rate_limit_exceeded', 'spent', { retry_after_ms: 1_000 }).structuredContent.error;
    expect(errorCodeIn(own)).toBe('rate_limit_exceeded');
    const refused = new BulkheadError('input_request_refused', 'no');
    expect(errorCodeIn(protocolErrorFor(refused).data)).toBe('input_request_refused');
    expect(errorCodeIn(missingCapabilityErrorFor(refused, { sampling: {} }).data)).toBe(
      'input_request_refused',
    );
    // The same codes read from a runtime's answer: parsed from its JSON, never built here.
    const fromRuntime = (error: unknown): string => errorCodeIn(JSON.parse(JSON.stringify(error)));
    expect(fromRuntime(own)).toBe('runtime_code_refused');
    expect(fromRuntime({ code: 'invalid_token' })).toBe('runtime_code_refused');
    expect(fromRuntime({ code: 'y'.repeat(10_000) })).toBe('runtime_code_refused');
    expect(fromRuntime(toolError('pack_timeout', 'slow').structuredContent.error)).toBe('pack_timeout');
    expect(fromRuntime({ message: 'no code' })).toBe('internal');
    expect(errorCodeIn(undefined)).toBe('internal');
  });

  it('counts each drift change once, by approved tool name', async () => {
    const m = new RouterMetrics();
    const guard = new DriftGuard({
      approved: RECORDS_TOOLS,
      logger: pino({ level: 'silent' }),
      onDrift: (tool, event) => m.driftEvent(tool, event),
    });
    const approved = RECORDS_TOOLS.map(wireTool);
    const changed = approved.map((t) => (t.name === 'records_get' ? { ...t, description: 'changed' } : t));
    guard.check('a', changed);
    guard.check('a', changed); // still withheld: no new event
    guard.check('a', [...approved, { name: 'extra_tool', inputSchema: {} }]);
    const s = await samples(m);
    expect(total(s, 'bulkhead_tool_drift_events_total', { tool: 'records_get', event: 'withheld' })).toBe(1);
    expect(total(s, 'bulkhead_tool_drift_events_total', { tool: 'records_get', event: 'restored' })).toBe(1);
    expect(total(s, 'bulkhead_tool_drift_events_total')).toBe(2);
  });
});
