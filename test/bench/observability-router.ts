// One router of test/bench/observability-overhead.ts in a process of its own, with one setting, as
// a deployment runs it: one configuration per process, so the JIT sees only that setting's code
// paths and object shapes. Started by the benchmark (node:child_process fork), never by hand; it
// answers the benchmark's messages: `gc` (a full collection, outside the measured time), `flush`
// (export the spans queued), `cpu` (this process's and its event loop thread's CPU time, in µs).
// The modules come from `dir` (this checkout, or the one given to the benchmark's --before).
//   node test/bench/observability-router.ts --dir DIR --setting SETTING --port N --issuer URL
//     --receiver URL --prefix P --tenant JSON   (the tenant record the router serves)
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { REDIS_URL } from '../support/namespace.ts';
import { pino } from 'pino';
import { TenantRecordSchema } from '../../kernel/tenant/tenant-spec.ts';
import { badArgument, benchArgs } from './bench-args.ts';
import { groupedRoundTrip } from './redis-floor.ts';
import type { RouterAnswer, RouterMessage } from './observability-processes.ts';
import { exposedGc, isSetting, loadCheckout, observabilityFor, SETTINGS } from './observability-settings.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    dir: { type: 'string' },
    setting: { type: 'string' },
    port: { type: 'string' },
    issuer: { type: 'string' },
    receiver: { type: 'string' },
    prefix: { type: 'string' },
    tenant: { type: 'string' },
  },
});
for (const name of ['dir', 'setting', 'port', 'issuer', 'receiver', 'prefix', 'tenant'] as const)
  if (values[name] === undefined) badArgument(`--${name} is required`);
const setting = values.setting;
if (!isSetting(setting)) badArgument(`--setting takes one of: ${SETTINGS.join(', ')}`);
if (!process.send) badArgument('observability-router.ts is started by observability-overhead.ts (fork)');
const send = process.send.bind(process);

const { AuditTrail, ArgsDigester, startTracing, RouterMetrics, harness } = await loadCheckout(
  resolve(values.dir!),
);

const redis = new Redis(parseRedisUrl(REDIS_URL));
const roundTrip = await groupedRoundTrip(redis);
const observability = observabilityFor(setting, {
  tracing: (sampleRatio) =>
    startTracing({ service: 'bulkhead-router', endpoint: values.receiver!, sampleRatio })!,
  metrics: () => new RouterMetrics({ tenantLabel: false }),
  audit: () => ({
    audit: new AuditTrail({ redis, prefix: values.prefix! }),
    digester: new ArgsDigester('bench-secret'),
  }),
  roundTrip: () => roundTrip,
});
const tracing = observability.tracing?.tracing;
const router = await harness.startAuthRouter({
  port: Number(values.port),
  issuers: [{ issuer: values.issuer! }],
  tenants: new harness.MemoryTenants([TenantRecordSchema.parse(JSON.parse(values.tenant!))]),
  logger: pino({ level: 'silent' }),
  prefix: values.prefix!,
  observability,
  // One connection for the stores and the audit trail, as router/router.ts wires them.
  redis,
});

const collectGarbage = exposedGc();

process.on('message', (asked: RouterMessage) => {
  void (async () => {
    if (asked === 'gc') collectGarbage();
    if (asked === 'flush') await tracing?.flush();
    if (asked !== 'cpu') return void send({ asked } satisfies RouterAnswer);
    const own = process.cpuUsage();
    const loop = process.threadCpuUsage();
    send({ asked, processUs: own.user + own.system, loopUs: loop.user + loop.system } satisfies RouterAnswer);
  })();
});
process.on('disconnect', () => {
  void (async () => {
    await router.close();
    await tracing?.shutdown();
    redis.disconnect();
    process.exit(0);
  })();
});
send({ asked: 'ready', url: router.mcpUrl } satisfies RouterAnswer);
