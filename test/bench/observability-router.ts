// One router of test/bench/observability-overhead.ts in a process of its own, with one setting, as
// a deployment runs it: one configuration per process, so the JIT sees only that setting's code
// paths and object shapes. Started by the benchmark (node:child_process fork), never by hand; it
// answers the benchmark's messages: `gc` (a full collection, outside the measured time), `flush`
// (export the spans queued), `cpu` (this process's and its event loop thread's CPU time, in µs).
// The modules come from `dir` (this checkout, or the one given to the benchmark's --before).
//   node test/bench/observability-router.ts --dir DIR --setting SETTING --port N --issuer URL
//     --receiver URL --prefix P
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type * as AuditTrailModule from '../../kernel/audit/audit-trail.ts';
import type * as AuditRecordModule from '../../kernel/audit/audit-record.ts';
import type * as RegistryModule from '../../kernel/registry/tenant-registry.ts';
import type * as TracingModule from '../../kernel/telemetry/tracing.ts';
import type * as MetricsModule from '../../router/metrics/router-metrics.ts';
import type * as HarnessModule from '../support/auth-harness.ts';
import type * as StackModule from '../support/stack.ts';
import type * as TenantModule from '../support/tenant.ts';
import type { AppDeps } from '../../router/app.ts';
import { benchArgs } from './bench-args.ts';
import type { RouterAnswer, RouterMessage } from './observability-processes.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    dir: { type: 'string' },
    setting: { type: 'string' },
    port: { type: 'string' },
    issuer: { type: 'string' },
    receiver: { type: 'string' },
    prefix: { type: 'string' },
    'sample-ratio': { type: 'string', default: '0.1' },
  },
});
for (const name of ['dir', 'setting', 'port', 'issuer', 'receiver', 'prefix'] as const)
  if (values[name] === undefined) throw new Error(`--${name} is required`);
if (!process.send) throw new Error('observability-router.ts is started by observability-overhead.ts (fork)');
const send = process.send.bind(process);

const dir = resolve(values.dir!);
const setting = values.setting!;
const load = <M>(path: string): Promise<M> => import(pathToFileURL(resolve(dir, path)).href) as Promise<M>;
const { AuditTrail } = await load<typeof AuditTrailModule>('kernel/audit/audit-trail.ts');
const { ArgsDigester } = await load<typeof AuditRecordModule>('kernel/audit/audit-record.ts');
const { openToAgentsAlone } = await load<typeof RegistryModule>('kernel/registry/tenant-registry.ts');
const { startTracing } = await load<typeof TracingModule>('kernel/telemetry/tracing.ts');
const { RouterMetrics } = await load<typeof MetricsModule>('router/metrics/router-metrics.ts');
const harness = await load<typeof HarnessModule>('test/support/auth-harness.ts');
const { TEST_QUOTAS } = await load<typeof StackModule>('test/support/stack.ts');
const { tenantRecord } = await load<typeof TenantModule>('test/support/tenant.ts');

const redis = new Redis(process.env.BULKHEAD_REDIS_URL ?? 'redis://127.0.0.1:6379');
const all = setting === 'all on' || setting === 'all on 10%';
const tracing =
  all || setting === 'tracing'
    ? startTracing({
        service: 'bulkhead-router',
        endpoint: values.receiver!,
        sampleRatio: setting === 'all on 10%' ? Number(values['sample-ratio']) : 1,
      })
    : undefined;
const observability: Pick<AppDeps, 'audit' | 'digester' | 'metrics' | 'tracing'> = {
  ...(tracing ? { tracing: { tracing, identities: false } } : {}),
  ...(all || setting === 'metrics' ? { metrics: new RouterMetrics({ tenantLabel: false }) } : {}),
  ...(all || setting === 'audit'
    ? { audit: new AuditTrail({ redis, prefix: values.prefix! }), digester: new ArgsDigester('bench-secret') }
    : {}),
};
// Quotas the loops never reach: the rate limits are taken (a Redis round trip) but never refuse.
const base = tenantRecord('bench', { tools: openToAgentsAlone('all') });
const router = await harness.startAuthRouter({
  port: Number(values.port),
  issuers: [{ issuer: values.issuer! }],
  tenants: new harness.MemoryTenants([{ ...base, quotas: { ...base.quotas, ...TEST_QUOTAS } }]),
  logger: pino({ level: 'silent' }),
  prefix: values.prefix!,
  observability,
  // One connection for the stores and the audit trail, as router/router.ts wires them.
  redis,
});

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

process.on('message', (asked: RouterMessage) => {
  void (async () => {
    if (asked === 'gc') collectGarbage();
    if (asked === 'flush') await tracing?.flush();
    const own = process.cpuUsage();
    const loop = process.threadCpuUsage();
    const answer: RouterAnswer = {
      asked,
      ...(asked === 'cpu' ? { processUs: own.user + own.system, loopUs: loop.user + loop.system } : {}),
    };
    send(answer);
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
