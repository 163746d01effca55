// Memory, CPU and PIDs of every running tenant container, collected from the engine and exported
// two ways: a snapshot in Redis (one hash per installation, a field per tenant, read by operators
// and dashboards without touching the Docker socket) and a prom-client registry for the
// supervisor's `/metrics` endpoint (docs/observability.md). The per-container series carry a
// tenant label by nature: there is one container per tenant, and these measure it.
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricsKey } from '../../kernel/redis/keys.ts';
import { RUNTIME_STATES, type RuntimeDriver, type RuntimeUsage } from '../runtime/runtime-driver.ts';
import type { CreateLimiter } from '../lifecycle/create-limiter.ts';
import type { RuntimeReady } from '../lifecycle/controller-parts.ts';
import type { RolloutPass } from '../lifecycle/health-monitor.ts';

export interface RuntimeSample extends RuntimeUsage {
  tenantId: string;
  state: string;
  at: string;
}

export async function collectRuntimeMetrics(driver: RuntimeDriver): Promise<RuntimeSample[]> {
  const at = new Date().toISOString();
  const runtimes = await driver.list();
  const samples = await Promise.all(
    runtimes.map(async (info): Promise<RuntimeSample> => {
      const usage =
        info.state === 'running' ? await driver.usage(info.tenantId).catch(() => undefined) : undefined;
      return {
        tenantId: info.tenantId,
        state: info.state,
        at,
        memoryBytes: usage?.memoryBytes ?? 0,
        memoryLimitBytes: usage?.memoryLimitBytes ?? 0,
        memoryPeakBytes: usage?.memoryPeakBytes ?? 0,
        cpuSeconds: usage?.cpuSeconds ?? 0,
        cpuThrottledSeconds: usage?.cpuThrottledSeconds ?? 0,
        pids: usage?.pids ?? 0,
        pidsLimit: usage?.pidsLimit ?? 0,
      };
    }),
  );
  return samples.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

/** Replaces the snapshot: tenants without a container disappear from it. */
export async function publishRuntimeMetrics(
  redis: Redis,
  prefix: string,
  samples: RuntimeSample[],
): Promise<void> {
  const key = metricsKey(prefix);
  const multi = redis.multi().del(key);
  if (samples.length > 0)
    multi.hset(key, Object.fromEntries(samples.map((s) => [s.tenantId, JSON.stringify(s)])));
  await multi.exec();
}

/** Start latencies: a create is seconds, a wake from paused tens of milliseconds. */
const START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32];

/** The audit shipper's counters and gauge, and the three reports it makes to them. */
function auditShippingMetrics(registers: Registry[]) {
  const shipped = new Counter({
    name: 'bulkhead_audit_records_shipped_total',
    help: 'Sealed audit records the SIEM collector accepted (BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT).',
    registers,
  });
  const failures = new Counter({
    name: 'bulkhead_audit_ship_failures_total',
    help: "Times shipping a tenant's sealed audit segments stopped short: the collector did not accept them, or a segment did not verify.",
    registers,
  });
  const unshipped = new Gauge({
    name: 'bulkhead_audit_segments_unshipped',
    help: 'Sealed audit segments the SIEM collector had not accepted at the end of the last sealing pass.',
    registers,
  });
  return {
    shipped: (records: number) => shipped.inc(records),
    failed: () => failures.inc(),
    unshipped: (segments: number) => unshipped.set(segments),
  };
}

/** The supervisor's registry: one per process (tests run several supervisors in one process). */
export class SupervisorMetrics {
  readonly registry = new Registry();
  private readonly runtimes: Gauge;
  private readonly perTenant: { gauge: Gauge; value: (s: RuntimeSample) => number }[];
  private readonly cpu: Counter;
  private readonly cpuThrottled: Counter;
  private readonly tampering: Counter;
  private readonly creates: { gauge: Gauge; value: (l: CreateLimiter) => number }[];
  private readonly coldStart: Histogram;
  private readonly wake: Histogram;
  private readonly replacementDue: Gauge;
  private readonly replacementFailed: Gauge;

  constructor() {
    const registers = [this.registry];
    this.runtimes = new Gauge({
      name: 'bulkhead_runtimes',
      help: 'Tenant runtimes (containers) by lifecycle state.',
      labelNames: ['state'],
      registers,
    });
    const tenantGauge = (name: string, help: string, value: (s: RuntimeSample) => number) => ({
      gauge: new Gauge({ name, help, labelNames: ['tenant', 'state'], registers }),
      value,
    });
    this.perTenant = [
      tenantGauge(
        'bulkhead_runtime_memory_bytes',
        'Working-set memory of the tenant container.',
        (s) => s.memoryBytes,
      ),
      tenantGauge(
        'bulkhead_runtime_memory_limit_bytes',
        'Memory limit of the tenant container.',
        (s) => s.memoryLimitBytes,
      ),
      tenantGauge('bulkhead_runtime_pids', 'Processes and threads in the tenant container.', (s) => s.pids),
      tenantGauge('bulkhead_runtime_pids_limit', 'PIDs limit of the tenant container.', (s) => s.pidsLimit),
    ];
    this.cpu = new Counter({
      name: 'bulkhead_runtime_cpu_seconds_total',
      help: 'CPU time used by the tenant container (since it was created).',
      labelNames: ['tenant', 'state'],
      registers,
    });
    this.cpuThrottled = new Counter({
      name: 'bulkhead_runtime_cpu_throttled_seconds_total',
      help: "Time the tenant container's processes waited past its plan's CPU quota (since it was created).",
      labelNames: ['tenant', 'state'],
      registers,
    });
    this.tampering = new Counter({
      name: 'bulkhead_runtime_socket_tampering_total',
      help: 'Times a tenant runtime socket was found tampered with (kept in Redis, all processes).',
      labelNames: ['tenant'],
      registers,
    });
    const limiterGauge = (name: string, help: string, value: (l: CreateLimiter) => number) => ({
      gauge: new Gauge({ name, help, registers }),
      value,
    });
    this.creates = [
      limiterGauge('bulkhead_creates_in_flight', 'Container creates running now.', (l) => l.inFlight),
      limiterGauge(
        'bulkhead_creates_queued',
        'Container creates waiting for the create cap.',
        (l) => l.queued,
      ),
      limiterGauge(
        'bulkhead_creates_max_in_flight',
        'Most creates ever in flight at once.',
        (l) => l.maxInFlight,
      ),
    ];
    this.coldStart = new Histogram({
      name: 'bulkhead_runtime_cold_start_seconds',
      help: 'From ensure to a healthy runtime when a container was created.',
      buckets: START_BUCKETS,
      registers,
    });
    this.replacementDue = new Gauge({
      name: 'bulkhead_runtimes_replacement_due',
      help: 'Running tenant runtimes of an older spec or past their maximum age at the last health pass, which replaces a few a pass.',
      registers,
    });
    this.replacementFailed = new Gauge({
      name: 'bulkhead_runtimes_replacement_failed',
      help: "Replacements for a spec change or age whose new runtime did not come up, or failed within the probation window, not settled since; each holds one of a pass's replacements back.",
      registers,
    });
    this.wake = new Histogram({
      name: 'bulkhead_runtime_wake_seconds',
      help: 'From ensure to a woken runtime handed out: from paused once its socket passed its check, from stopped once healthy.',
      labelNames: ['from'],
      buckets: START_BUCKETS,
      registers,
    });
  }

  /** The audit shipper's reports (supervisor/audit/audit-shipper.ts ShipperMetrics). */
  readonly auditShipping = auditShippingMetrics([this.registry]);

  /** The lifecycle controller's report of a runtime it brought up (RuntimeControllerOptions.onReady). */
  readonly observeReady = (ready: RuntimeReady): void => {
    if (ready.kind === 'create') this.coldStart.observe(ready.seconds);
    else this.wake.observe({ from: ready.from }, ready.seconds);
  };

  /** The health pass's count of runtimes due to be replaced (HealthMonitorOptions.onPass). */
  readonly observePass = (pass: RolloutPass): void => {
    this.replacementDue.set(pass.due);
    this.replacementFailed.set(pass.failed);
  };

  /** Sets the sampled series from one collection: containers gone since drop out. */
  update(samples: RuntimeSample[], limiter: CreateLimiter, tampering: Record<string, number>): void {
    this.runtimes.reset();
    for (const state of RUNTIME_STATES)
      this.runtimes.set({ state }, samples.filter((s) => s.state === state).length);
    for (const { gauge, value } of this.perTenant) {
      gauge.reset();
      for (const s of samples) gauge.set({ tenant: s.tenantId, state: s.state }, value(s));
    }
    // Counted elsewhere (the engine, Redis): the counters take the source's running total.
    this.cpu.reset();
    this.cpuThrottled.reset();
    for (const s of samples) {
      this.cpu.inc({ tenant: s.tenantId, state: s.state }, s.cpuSeconds);
      this.cpuThrottled.inc({ tenant: s.tenantId, state: s.state }, s.cpuThrottledSeconds);
    }
    this.tampering.reset();
    for (const [tenant, count] of Object.entries(tampering)) this.tampering.inc({ tenant }, count);
    for (const { gauge, value } of this.creates) gauge.set(value(limiter));
  }
}
