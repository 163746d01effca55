// Benchmark (not a test): what tracing, metrics and audit cost on the shared-tool hot path. Router
// apps in this process as production wires them (real token verifier, Redis rate limits): one with
// all three off, one with each alone, one with all three on: OTLP spans to a real OTLP/HTTP receiver
// (a process of its own), the Prometheus registry, the hash-chained audit trail in Redis.
// Concurrent tools/call whoami for a fixed time, the configurations in turn, calls per second
// printed side by side. Asserts nothing.
//   node test/bench/observability-overhead.ts [--seconds 2] [--rounds 5] [--concurrency 8]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { startDevIdp } from '../../dev/idp/dev-idp.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { startTracing } from '../../kernel/telemetry/tracing.ts';
import { RouterMetrics } from '../../router/metrics/router-metrics.ts';
import { mcpPost, MemoryTenants, startAuthRouter } from '../support/auth-harness.ts';
import { startReceiverProcess } from '../support/otlp-receiver.ts';
import type { AppDeps } from '../../router/app.ts';
import { freePort, TEST_QUOTAS } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const logger = pino({ level: 'silent' });
const INITIAL = 'bench-initial-access-token-0123456789';
const WHOAMI = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };

const CONFIGS = ['all off', 'tracing', 'metrics', 'audit', 'all on'] as const;
type Config = (typeof CONFIGS)[number];
const ports = await Promise.all(CONFIGS.map(() => freePort()));
const idp = await startDevIdp({
  port: 0,
  resources: ports.map((port) => ({ url: `http://127.0.0.1:${port}/mcp`, scopes: ['records:read'] })),
  initialAccessToken: INITIAL,
  logger,
});
// The OTLP endpoint in a process of its own, as a collector would be: decoding the exports does
// not share this process's CPU with the routers.
const receiver = await startReceiverProcess();
const tracing = startTracing({ service: 'bulkhead-router', endpoint: receiver.url })!;
const prefix = `bulkhead:t-bench-obs-${randomBytes(3).toString('hex')}`;
const redis = new Redis(process.env.BULKHEAD_REDIS_URL ?? 'redis://127.0.0.1:6379');
// Quotas the loops never reach: the rate limits are taken (a Redis round trip) but never refuse.
const base = tenantRecord('bench', { tools: openToAgentsAlone('all') });
const tenants = new MemoryTenants([{ ...base, quotas: { ...base.quotas, ...TEST_QUOTAS } }]);
const issuers = [{ issuer: idp.issuer }];
const metrics = new RouterMetrics({ tenantLabel: false });
const audit = new AuditTrail({ redis, prefix });
function observability(config: Config): Pick<AppDeps, 'audit' | 'metrics' | 'tracing'> {
  const all = config === 'all on';
  return {
    ...(all || config === 'tracing' ? { tracing: { tracing, identities: false } } : {}),
    ...(all || config === 'metrics' ? { metrics } : {}),
    ...(all || config === 'audit' ? { audit } : {}),
  };
}
const routers = await Promise.all(
  CONFIGS.map((config, i) =>
    startAuthRouter({
      port: ports[i]!,
      issuers,
      tenants,
      logger,
      prefix,
      observability: observability(config),
    }),
  ),
);
const agent = await registerAgentClient({
  issuer: idp.issuer,
  initialAccessToken: INITIAL,
  tenant: 'bench',
  scopes: ['records:read'],
  clientName: 'bench',
});
const tokenFor = (resource: string): Promise<string> =>
  mintClientCredentialsToken({ issuer: idp.issuer, ...agent, resource, scope: 'records:read' });

/**
 * `concurrency` clients calling one after another for `seconds`: calls answered per second, and this
 * process's CPU time per call (routers and clients; less sensitive than the rate to other load on
 * the machine, since time spent waiting for the CPU is not counted).
 */
async function measure(
  url: string,
  token: string,
  seconds: number,
): Promise<{ rate: number; cpuUs: number }> {
  const until = performance.now() + seconds * 1000;
  let calls = 0;
  const client = async (): Promise<void> => {
    while (performance.now() < until) {
      const answer = await mcpPost(url, token, WHOAMI);
      if (answer.status !== 200 || !answer.body.includes('bench')) throw new Error(`whoami: ${answer.body}`);
      calls += 1;
    }
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, client));
  const used = process.cpuUsage(cpu);
  return { rate: calls / ((performance.now() - started) / 1000), cpuUs: (used.user + used.system) / calls };
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  const tokens = await Promise.all(routers.map((router) => tokenFor(router.mcpUrl)));
  // Warm every router (JWKS, JIT) before measuring.
  for (const [i, router] of routers.entries()) await measure(router.mcpUrl, tokens[i]!, 1);
  const results = CONFIGS.map(() => ({ rate: [] as number[], cpuUs: [] as number[] }));
  // Round-robin: a burst of load from elsewhere on the machine falls on every configuration alike.
  for (let round = 0; round < rounds; round += 1) {
    for (const [i, router] of routers.entries()) {
      const { rate, cpuUs } = await measure(router.mcpUrl, tokens[i]!, seconds);
      results[i]!.rate.push(rate);
      results[i]!.cpuUs.push(cpuUs);
    }
  }
  await tracing.flush();
  const off = median(results[0]!.rate);
  const offCpu = median(results[0]!.cpuUs);
  const change = (value: number, base: number): string =>
    `${(((value - base) / base) * 100).toFixed(1).padStart(6)} %`;
  console.log(
    `tools/call whoami, ${concurrency} concurrent clients, ${rounds} rounds of ${seconds} s each (medians)`,
  );
  for (const [i, config] of CONFIGS.entries()) {
    const rate = median(results[i]!.rate);
    const cpu = median(results[i]!.cpuUs);
    console.log(
      `  ${config.padEnd(8)} ${rate.toFixed(0).padStart(6)} calls/s${i === 0 ? '         ' : change(rate, off)}` +
        `  ${cpu.toFixed(0).padStart(6)} µs CPU/call${i === 0 ? '' : change(cpu, offCpu)}` +
        `  [${results[i]!.rate.map((v) => v.toFixed(0)).join(', ')} calls/s]`,
    );
  }
  console.log(`  spans received by the OTLP endpoint: ${await receiver.spans()}`);
} finally {
  for (const router of routers) await router.close();
  await tracing.shutdown();
  receiver.close();
  await idp.close();
  redis.disconnect();
}
