// Benchmark (not a test): a tenant write's controls in the router's pipeline, one call at a time
// (router/pipeline/call-pipeline.ts, runToolCall): the rate-limit take, the concurrency gate, the
// idempotency claim, and the stored result, on real Redis, with a dispatcher that answers at once
// (no container: what is left is the controls' waits and work), its client alone. Two ways, in the
// same run, taking turns call by call: its claim sent with its take (router/pipeline/held-ahead.ts),
// and its claim sent once the take has answered (admitCall's `holdAhead: false`, as before that
// change). Each call has a new idempotency key; budgets the run cannot spend. Asserts nothing.
//   node test/bench/write-admission.ts [--calls 2000]
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RECORDS_TOOLS } from '../../kernel/packs/records.ts';
import { RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import type { ToolAnswer } from '../../router/dispatch/call-relay.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import {
  admitCall,
  runToolCall,
  type CallPipelineDeps,
  type ToolCall,
} from '../../router/pipeline/call-pipeline.ts';
import { ConcurrencyGate } from '../../kernel/process/concurrency-gate.ts';
import { IdempotencyStore } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { testNamespace } from '../support/namespace.ts';
import { TEST_QUOTAS } from '../support/stack.ts';
import { agentPrincipal, tenantRecord } from '../support/tenant.ts';
import { benchArgs } from './bench-args.ts';
import { printFigures } from './figures.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '2000' } },
});
const calls = Number(values.calls);

/** Answers every write at once: no runtime, so only the router's controls are timed. */
class InstantDispatcher extends TenantDispatcher {
  override callTool(): Promise<ToolAnswer> {
    return Promise.resolve({ content: [{ type: 'text', text: 'created' }] });
  }
}

const ns = await testNamespace('bench-writeadmit');
const redis = new Redis(ns.installation.redis);
try {
  const prefix = ns.installation.registryPrefix;
  const logger = pino({ level: 'silent' });
  const deps: CallPipelineDeps = {
    dispatcher: new InstantDispatcher({
      runtimes: { ensure: () => Promise.reject(new Error('no runtime in this benchmark')) },
      sign: () => Promise.reject(new Error('no runtime in this benchmark')),
      logger,
    }),
    sharedHandlers: new Map(),
    idempotency: new IdempotencyStore({
      redis,
      prefix,
      sealer: new RecordSealer('write admission bench secret'),
    }),
    limiter: new RateLimiter({ redis, prefix }),
    gate: new ConcurrencyGate(),
  };
  const create = RECORDS_TOOLS.find((d) => d.name === 'records_create')!;
  const tool = { definition: create, wire: wireTool(create) };
  const tenant = tenantRecord('bench', { quotas: TEST_QUOTAS });
  const principal = agentPrincipal('bench', { scopes: ['records:write'], issuer: 'bench' });
  let n = 0;
  const write = (): ToolCall => ({
    principal,
    tenant,
    tool,
    visible: () => [tool],
    rawArgs: { title: 'bench', idempotency_key: `bench-key-${(n += 1)}` },
    log: logger,
    alone: () => true,
  });
  const samples = { ahead: [] as number[], after: [] as number[] };
  for (let i = 0; i < calls + 200; i++) {
    for (const holdAhead of i % 2 === 0 ? [true, false] : [false, true]) {
      const started = performance.now();
      const call = write();
      const answer = await runToolCall(call, deps, admitCall(call, deps, { holdAhead }));
      const ms = performance.now() - started;
      if (answer.isError) throw new Error(`a write was refused: ${JSON.stringify(answer.content)}`);
      if (i >= 200) (holdAhead ? samples.ahead : samples.after).push(ms); // 200 rounds of warm-up
    }
  }
  console.log(`a tenant write's controls, ${calls} of each, taking turns (new key each, instant dispatcher)`);
  const ahead = printFigures('claim sent with the take', samples.ahead, { digits: 3 });
  const after = printFigures('claim sent after the take answered', samples.after, { digits: 3 });
  console.log(`p50: the claim sent with the take saves ${(after - ahead).toFixed(3)} ms`);
} finally {
  redis.disconnect();
  await ns.cleanup();
}
