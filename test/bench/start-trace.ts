// Benchmark (not a test): one tenant's lifecycle with tracing on (router and supervisor export to a
// real OTLP receiver, test/support/otlp-receiver.ts), each start's call printed as its spans, ms
// from the request span's start: where the runtime and the records pack spend a new container's
// first requests (the runtime's and the pack's spans come back with each call). Tracing adds its
// own cost, so the figures are for the split, not the totals (lifecycle.ts has those). Asserts
// nothing; everything it creates lives in its own namespace.
//   node test/bench/start-trace.ts [--warm 3]
import { write } from '../support/mcp-client.ts';
import { benchTenant } from './lifecycle-lane.ts';
import { startOtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { startTestStack } from '../support/stack.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, { options: { warm: { type: 'string', default: '3' } } });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const receiver = await startOtlpReceiver();
const stack = await startTestStack('bench-start-trace', {
  router: { otlpTracesEndpoint: receiver.url },
  supervisor: { otlpTracesEndpoint: receiver.url, healthIntervalMs: 3_600_000 },
});
const calls: { label: string; ms: number }[] = [];
try {
  const id = 'trace-0';
  const client = await benchTenant(stack, id);
  const call = async (label: string): Promise<void> => {
    calls.push({ label, ms: (await write(client, label)).ms });
  };
  // As lifecycle.ts: each tier change as the idle reaper makes it, then longer than a route's freshness.
  await call('first write ever');
  await stack.supervisor.manager.remove(id, false);
  await sleep(600);
  await call('cold start, volume kept');
  await stack.supervisor.manager.idle(id, { event: 'stop' });
  await sleep(600);
  await call('wake from stopped');
  await stack.supervisor.manager.idle(id, { event: 'pause' });
  await sleep(600);
  await call('wake from paused');
  for (let i = 0; i < Math.min(20, Number(values.warm)); i++) await call(`warm ${i + 1}`);
  await client.close();
  await sleep(2_500); // the batch exporters send every second
} finally {
  await stack.close();
}
const requests = receiver.spans
  .filter((s) => s.name === 'tools/call records_create' && s.resource['service.name'] === 'bulkhead-router')
  .sort((a, b) => a.startMs - b.startMs);
for (const [i, request] of requests.entries()) {
  const trace = receiver.spans
    .filter((s: ReceivedSpan) => s.traceId === request.traceId)
    .sort((a, b) => a.startMs - b.startMs);
  console.log(`${calls[i]?.label ?? '?'}: ${calls[i]?.ms.toFixed(1) ?? '?'} ms at the client`);
  for (const span of trace)
    console.log(
      `  ${String(span.resource['service.name']).padEnd(20)} ${span.name.padEnd(36)} ` +
        `${(span.startMs - request.startMs).toFixed(1).padStart(7)} -> ${(span.endMs - request.startMs).toFixed(1).padStart(7)}`,
    );
}
await receiver.close();
