// Benchmark (not a test): what one audit record costs a call, Redis round trip included, beside a
// plain Redis round trip (PING) measured in the same run on the same connection: an append by the
// process that wrote the head last (one script call), and an append after another process moved
// the head (the script's lost try, then a try from the head it answered with). Then how long sealing those entries into signed segments
// takes per entry. Keys and files are namespaced and removed. Asserts nothing.
//   node test/bench/audit-append.ts [--calls 5000]
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ArgsDigester } from '../../kernel/audit/audit-record.ts';
import { AuditTrail, type AuditEvent } from '../../kernel/audit/audit-trail.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { testNamespace } from '../support/namespace.ts';
import { printFigures, timed } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '5000' } },
});
const calls = Number(values.calls);

const ns = await testNamespace('bench-audit');
const redis = new Redis(ns.installation.redis);
const other = new Redis(ns.installation.redis);
try {
  const prefix = ns.installation.registryPrefix;
  const trail = new AuditTrail({ redis, prefix });
  const rival = new AuditTrail({ redis: other, prefix });
  const digester = new ArgsDigester('bench-secret');
  const event = (): AuditEvent => ({
    tenant: 'bench',
    user: 'user-1',
    agent: 'agent-1',
    tool: 'records_get',
    decision: 'permit',
    reason: 'ok',
    kind: 'call',
    args_digest: digester.digest('bench', { id: 'r-1', fields: ['title'] }),
    status: 'ok',
    latency_ms: 1.234,
  });
  await timed(200, () => trail.append(event()));
  await timed(200, () => redis.ping());
  const options = { digits: 3, labelWidth: 44 };
  const ping: number[] = [];
  const warm: number[] = [];
  const moved: number[] = [];
  for (let round = 0; round < 10; round += 1) {
    ping.push(...(await timed(calls / 10, () => redis.ping())));
    warm.push(...(await timed(calls / 10, () => trail.append(event()))));
    // Another process appends first each time: this process's head is stale.
    moved.push(
      ...(await timed(calls / 20, async () => {
        await rival.append(event());
        const started = performance.now();
        await trail.append(event());
        return performance.now() - started;
      })),
    );
  }
  const base = printFigures('baseline: Redis PING round trip', ping, options);
  const cost = printFigures('audit append, head written here last', warm, options);
  printFigures('rival append + audit append after it', moved, options);
  console.log(`audit append above the round trip at p50: ${(cost - base).toFixed(3)} ms`);

  const registry = new TenantRegistry({ redis, prefix });
  await registry.create({ id: 'bench', plan: planByName('small'), isolation: 'runc' });
  const entries = (await trail.entries('bench')).length;
  const sealer = new AuditSealer({
    trail,
    tenants: registry,
    dir: join(ns.runDir, 'audit'),
    privateKey: generateKeyPairSync('ed25519').privateKey,
    maxEntries: 10_000,
    logger: pino({ level: 'silent' }),
  });
  const started = performance.now();
  const report = await sealer.seal('bench');
  const ms = performance.now() - started;
  console.log(
    `sealing: ${report.entries} of ${entries} entries into ${report.segments} segments in ${ms.toFixed(0)} ms ` +
      `(${((ms * 1000) / report.entries).toFixed(1)} µs per entry)`,
  );
} finally {
  redis.disconnect();
  other.disconnect();
  await ns.cleanup();
}
