// Benchmark (not a test): the CPU time of each piece of observability work one tools/call whoami
// does, each in a loop of its own in this process (no HTTP, no Redis round trip): the request's
// spans through the OpenTelemetry SDK and its batch processor, their OTLP JSON encoding, the audit
// record (keyed argument digest, schema check, chained hash, JSON), and the metrics. CPU time per
// call, the median of several runs: steadier than observability-overhead.ts's calls per second on a
// loaded machine, but it leaves out what only the whole path shows (Redis writes, GC, HTTP).
//   node test/bench/observability-costs.ts [--calls 20000] [--runs 5]
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ArgsDigester, AuditEventSchema } from '../../kernel/audit/audit-record.ts';
import { entryHash, GENESIS_HASH } from '../../kernel/audit/audit-trail.ts';
import { startTracing } from '../../kernel/telemetry/tracing.ts';
import { RouterMetrics } from '../../router/metrics/router-metrics.ts';
import type { Principal } from '../../router/identity/principal.ts';
import { RequestTrace } from '../../router/request/request-trace.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '20000' }, runs: { type: 'string', default: '5' } },
});
const calls = Number(values.calls);
const runs = Number(values.runs);

/** CPU µs per call of `work`, the median of `runs` loops of `count` (after one warm-up loop). */
function cpuPerCall(work: (i: number) => void, count = calls): number {
  const loop = (): number => {
    const started = process.cpuUsage();
    for (let i = 0; i < count; i++) work(i);
    const used = process.cpuUsage(started);
    return (used.user + used.system) / count;
  };
  loop();
  const times = Array.from({ length: runs }, loop).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

// The spans of one traced whoami (docs/observability.md): the request span, authentication,
// authorization, validation, rate_limit and audit; a no-op exporter keeps the batches.
let kept: ReadableSpan[] = [];
const tracing = startTracing({
  service: 'bulkhead-router',
  endpoint: undefined,
  exporter: {
    export(spans, done) {
      if (kept.length < 2048) kept = [...kept, ...spans].slice(0, 2048);
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  },
})!;
const REQUEST = {
  'mcp.method.name': 'tools/call',
  'jsonrpc.protocol.version': '2.0',
  'mcp.protocol.version': '2026-07-28',
  'jsonrpc.request.id': '1',
  'gen_ai.operation.name': 'execute_tool',
  'gen_ai.tool.name': 'whoami',
  'bulkhead.tenant': 'bench',
};
const STEPS = ['authentication', 'authorization', 'validation', 'rate_limit', 'audit'];
function traceOneCall(): void {
  const { tracer } = tracing;
  const span = tracer.startSpan('tools/call whoami', { kind: SpanKind.SERVER, attributes: REQUEST });
  const parent = trace.setSpan(ROOT_CONTEXT, span);
  for (const step of STEPS) tracer.startSpan(step, {}, parent).end();
  span.setAttribute('http.response.status_code', 200);
  span.end();
}

// The router's own request trace (router/request/request-trace.ts) with one new trace in ten
// recorded, as BULKHEAD_TRACE_SAMPLE_RATIO=0.1: a trace not sampled starts no step spans.
const tenth = startTracing({
  service: 'bulkhead-router',
  endpoint: undefined,
  sampleRatio: 0.1,
  exporter: { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() },
})!;
const WHOAMI = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
const principal = { tenant: 'bench', user: null, agent: 'bench-agent', scopes: [] } as unknown as Principal;
function requestTraceOneCall(): void {
  const request = new RequestTrace({ tracing: tenth, identities: false }, {});
  request.authenticated();
  request.begin({ body: WHOAMI, principal, tool: 'whoami' });
  for (const step of STEPS.slice(1)) request.stepSync(step, () => undefined);
  request.finish(200);
}

const digester = new ArgsDigester('bench-secret');
function auditOneCall(seq: number): void {
  const event = AuditEventSchema.parse({
    tenant: 'bench',
    user: null,
    agent: 'bench-agent',
    tool: 'whoami',
    decision: 'permit',
    reason: 'allowed',
    kind: 'call',
    args_digest: digester.digest('bench', {}),
    status: 'ok',
    latency_ms: 1.234,
    trace_id: '0af7651916cd43dd8448eb211c80319c',
  });
  const body = { ...event, seq, at: new Date().toISOString(), prev: GENESIS_HASH };
  JSON.stringify([JSON.stringify({ ...body, hash: entryHash(body) })]);
}

const metrics = new RouterMetrics({ tenantLabel: false });

const spans = cpuPerCall(traceOneCall);
await tracing.flush();
const perCall = kept.length / (STEPS.length + 1);
// One batch is 2048 spans: a few dozen batches are as many spans as the other loops' calls.
const encoding =
  cpuPerCall(() => JsonTraceSerializer.serializeRequest(kept), Math.ceil(calls / 500)) / perCall;
const rows: [string, number][] = [
  [`spans: ${STEPS.length + 1} per call, started and ended (SDK, batch processor)`, spans],
  ['OTLP JSON encoding of those spans', encoding],
  ['the request trace (RequestTrace), one new trace in ten recorded', cpuPerCall(requestTraceOneCall)],
  ['audit record: digest, schema check, chained hash, JSON', cpuPerCall(auditOneCall)],
  [
    'metrics: call counter and latency histogram',
    cpuPerCall(() => metrics.callAnswered({ tenant: 'bench', tool: 'whoami' }, undefined, 0.002)),
  ],
];
console.log(
  `CPU per tools/call, median of ${runs} runs of ${calls} calls (the encoding: of 2048-span batches)`,
);
for (const [name, us] of rows) console.log(`  ${us.toFixed(1).padStart(6)} µs  ${name}`);
await tracing.shutdown();
await tenth.shutdown();
