// Benchmark (not a test): what the rate limiter costs per call, Redis round trip included, beside
// a plain Redis round trip (PING) measured in the same run on the same connection. Decisions for
// a tenant, an agent, a user and a limited tool (the five per-tenant layers), and the same with an
// upstream the tool uses (six layers: the script also reads the upstream's budget from its hash),
// with budgets the run cannot spend, so every call is admitted and charged. Keys are namespaced and
// removed. Asserts nothing.
//   node test/bench/rate-limit.ts [--calls 5000]
import { Redis } from 'ioredis';
import { RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import { setUpstreamBudget } from '../../kernel/ratelimit/upstream-budgets.ts';
import { testNamespace } from '../support/namespace.ts';
import { printFigures, timed } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '5000' } },
});
const calls = Number(values.calls);

const ns = await testNamespace('bench-ratelimit');
const redis = new Redis(ns.installation.redis);
try {
  const limiter = new RateLimiter({ redis, prefix: ns.installation.registryPrefix });
  const scope = {
    principal: { tenant: 'bench', agent: 'agent-1', user: 'user-1' },
    // The tenant's record as the router holds it on a call (its quotas and createdAt, read by the
    // token verifier): what names the keys costs no Redis round trip of its own.
    tenant: {
      createdAt: new Date().toISOString(),
      quotas: {
        callsPerMinute: 1_000_000,
        callsPerDay: 1_000_000_000,
        agentCallsPerMinute: 1_000_000,
        userCallsPerMinute: 1_000_000,
        tools: { whoami: 1_000_000 },
      },
    },
    tool: { name: 'whoami' },
  };
  const prefix = ns.installation.registryPrefix;
  await setUpstreamBudget({ redis, prefix, upstream: 'bench-api', callsPerMinute: 1_000_000 });
  const upstreamScope = { ...scope, tool: { name: 'whoami', upstreams: ['bench-api'] } };
  // Warm-up: the script's first call sends its source (EVAL), later ones its SHA-1.
  await timed(200, () => limiter.take(scope));
  await timed(200, () => limiter.take(upstreamScope));
  await timed(200, () => redis.ping());
  const options = { digits: 3, labelWidth: 40 };
  // Interleaved in rounds, so that the machine's load falls on both alike.
  const ping: number[] = [];
  const take: number[] = [];
  const takeUpstream: number[] = [];
  for (let round = 0; round < 10; round += 1) {
    ping.push(...(await timed(calls / 10, () => redis.ping())));
    take.push(...(await timed(calls / 10, () => limiter.take(scope))));
    takeUpstream.push(...(await timed(calls / 10, () => limiter.take(upstreamScope))));
  }
  const base = printFigures('baseline: Redis PING round trip', ping, options);
  const cost = printFigures('limiter: take (5 layers, one script)', take, options);
  const withUpstream = printFigures('limiter: take (5 layers + 1 upstream)', takeUpstream, options);
  console.log(`limiter above the round trip at p50: ${(cost - base).toFixed(3)} ms`);
  console.log(`with an upstream, above the round trip at p50: ${(withUpstream - base).toFixed(3)} ms`);
} finally {
  redis.disconnect();
  await ns.cleanup();
}
