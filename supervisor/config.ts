// Everything the supervisor can be configured with, declared once: the environment variables the
// process reads (supervisor/main.ts) and the option-only knobs that tests and embedders set through
// startSupervisor (supervisor/supervisor.ts). Each default is written here and nowhere else.
import { z } from 'zod';
import {
  auditDir,
  idempotencyWindowMs,
  logLevel,
  namespace,
  metricsHost,
  otlpTracesEndpoint,
  redisUrl,
  runDir,
} from '../kernel/config/common.ts';
import { defineConfig, type ConfigFields, type ConfigOf } from '../kernel/config/define-config.ts';

const fields = {
  redisUrl,
  namespace,
  runDir,
  image: {
    env: 'BULKHEAD_RUNTIME_IMAGE',
    schema: z.string().min(1).default('bulkhead/runtime:latest'),
    doc: 'tenant runtime image',
  },
  routerPublicKeyFile: {
    env: 'BULKHEAD_ROUTER_PUBLIC_KEY_FILE',
    schema: z.string().min(1),
    doc: 'router call-assertion public key, SPKI PEM',
  },
  egressPublicKeyFile: {
    env: 'BULKHEAD_EGRESS_PUBLIC_KEY_FILE',
    schema: z.string().min(1).optional(),
    doc: "the egress gateway's public key, SPKI PEM (`bulkhead keygen`): each tenant's bridge uses a connection to its socket only with the gateway's signature; unset: tenants' egress answers 503",
    defaultText: 'none',
  },
  routerGid: {
    env: 'BULKHEAD_ROUTER_GID',
    schema: z.coerce.number().int().min(0).default(0),
    doc: 'group allowed into socket directories',
  },
  secretsKeyFile: {
    env: 'BULKHEAD_SECRETS_KEY_FILE',
    schema: z.string().min(1).optional(),
    doc: "AES-256 key of the secret store (the CLI's file): the values of the secrets a tenant's packs declare are read with it; unset: packs start without secrets",
    defaultText: 'none',
  },
  createLimit: {
    env: 'BULKHEAD_CREATE_LIMIT',
    schema: z.coerce.number().int().min(1).max(64).default(4),
    doc: 'concurrent container creates and starts; bursts queue (waking from paused is not limited)',
  },
  startCpuBoost: {
    env: 'BULKHEAD_START_CPU_BOOST',
    schema: z.coerce.number().min(0).max(64).default(2),
    doc: "CPUs a runtime may use per 1 s period while it starts (create, or wake from stopped; only a start alone, not in a burst), until its first health answer and never longer than `startCpuBoostMs` (an option, 3 s by default); then the plan's quota is put back. 0: off. Under gVisor it is written to the sandbox's host cgroup (runsc cannot change a running sandbox's quota; a supervisor that cannot reach that cgroup gives none). Not for a plan already at this size (docs/cpu-boost.md)",
  },
  // At least 2 s: routers re-check a route's epoch every 500 ms (see supervisor/client/runtime-epochs.ts).
  idlePauseMs: {
    env: 'BULKHEAD_IDLE_PAUSE_MS',
    schema: z.coerce
      .number()
      .int()
      .refine((v) => v === 0 || v >= 2_000, 'use 0 (off) or at least 2000')
      .default(300_000),
    doc: 'idle time before a runtime is paused (0: no idle tiers): frozen by the supervisor in its host cgroup where it can write that (else by the engine), and then `docker ps` shows it Up while `list` and `show` say paused (docs/lifecycle.md)',
  },
  idleStopMs: {
    env: 'BULKHEAD_IDLE_STOP_MS',
    schema: z.coerce.number().int().min(2_000).default(1_800_000),
    doc: 'idle time before it is stopped (at least BULKHEAD_IDLE_PAUSE_MS)',
  },
  idleRemoveMs: {
    env: 'BULKHEAD_IDLE_REMOVE_MS',
    schema: z.coerce.number().int().min(2_000).default(86_400_000),
    doc: 'idle time before its container is removed, volume kept (at least BULKHEAD_IDLE_STOP_MS)',
  },
  healthIntervalMs: {
    timer: 'ms',
    env: 'BULKHEAD_HEALTH_INTERVAL_MS',
    schema: z.coerce.number().int().min(500).default(10_000),
    doc: 'health pass interval',
  },
  replacementsPerPass: {
    env: 'BULKHEAD_REPLACEMENTS_PER_PASS',
    schema: z.coerce.number().int().min(1).max(1_000).default(4),
    doc: 'runtimes a health pass replaces at most for a spec change (a new image, plan or container default) or their maximum age, the oldest first; the others keep serving until a later pass, so an upgrade rolls through the fleet. A failed runtime is never held back; a replacement that failed (did not come up, or failed within `BULKHEAD_REPLACEMENT_PROBATION_MS`) takes the place of one until it runs healthy, so a broken rollout halts',
  },
  replacementProbationMs: {
    env: 'BULKHEAD_REPLACEMENT_PROBATION_MS',
    schema: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
    doc: 'how long a replacement that came up is watched: one that crashes, hits a limit or fails its probes within it counts as a failed replacement (as one that does not come up), holding the rollout back; a failed one is settled once a runtime on its spec has answered after running this long (0: only coming up counts)',
  },
  reconcileIntervalMs: {
    timer: 'ms',
    env: 'BULKHEAD_RECONCILE_INTERVAL_MS',
    schema: z.coerce.number().int().min(1_000).default(30_000),
    doc: 'reconciliation interval',
  },
  otlpTracesEndpoint,
  metricsPort: {
    env: 'BULKHEAD_METRICS_PORT',
    schema: z.coerce.number().int().min(0).max(65535).optional(),
    doc: 'port for Prometheus /metrics (0: any free port)',
    defaultText: 'none',
  },
  metricsHost: metricsHost('BULKHEAD_METRICS_HOST'),
  auditDir,
  auditSigningKeyFile: {
    env: 'BULKHEAD_AUDIT_SIGNING_KEY_FILE',
    schema: z.string().min(1).optional(),
    doc: 'Ed25519 key (PKCS#8 PEM) that signs sealed audit segments; unset: entries stay in Redis, unsealed',
    defaultText: 'none',
  },
  auditReaderGid: {
    env: 'BULKHEAD_AUDIT_READER_GID',
    schema: z.coerce.number().int().min(1).max(4_294_967_294).optional(),
    doc: "group given read access (never write) to the sealed audit segments, e.g. the auditors' CLI; unset: the supervisor alone. With a signing key, a supervisor that cannot give its files this group (neither root with CAP_CHOWN nor in the group) refuses to start",
    defaultText: 'none',
  },
  auditOtlpLogsEndpoint: {
    env: 'BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT',
    schema: z.url({ protocol: /^https?$/ }).optional(),
    doc: "OTLP/HTTP logs URL (a SIEM's collector, e.g. http://127.0.0.1:4318/v1/logs) that each sealed audit segment is shipped to, one log record per entry; needs BULKHEAD_AUDIT_SIGNING_KEY_FILE; unset: segments stay on disk only",
    defaultText: 'none',
  },
  auditSealIntervalMs: {
    timer: 'ms',
    env: 'BULKHEAD_AUDIT_SEAL_INTERVAL_MS',
    schema: z.coerce.number().int().min(1_000).default(300_000),
    doc: 'how often audit entries are moved from Redis into sealed segments and retention is applied',
  },
  logLevel,
  idempotencyWindowMs,
  // Option-only knobs (no environment variable).
  idleIntervalMs: {
    timer: 'ms',
    schema: z.number().int().positive().default(1_000),
    doc: 'how often the idle tiers are applied',
  },
  metricsIntervalMs: {
    timer: 'ms',
    schema: z.number().int().positive().default(15_000),
    doc: 'metrics snapshot into Redis this often',
  },
  healthTimeoutMs: {
    schema: z.number().int().positive().default(15_000),
    doc: 'how long a starting runtime may take to answer its health check',
  },
  startCpuBoostMs: {
    timer: 'ms',
    schema: z.number().int().min(100).max(30_000).default(3_000),
    doc: "the start-time CPU boost's hard deadline from the container's start, whether or not the runtime has answered",
  },
  startCpuBoostIntervalMs: {
    schema: z.number().int().min(0).max(86_400_000).default(60_000),
    doc: 'a tenant gets a start-time CPU boost only if its last one began at least this long ago: a runtime that exits and is started again and again cannot keep a boost by it',
  },
  liveProbeMs: {
    timer: 'ms',
    schema: z.number().int().positive().default(10_000),
    doc: 'how long one health probe of a running runtime may take to answer (it waits behind the calls the runtime is serving; each probe of a starting runtime gets 2 s)',
  },
  drainSeconds: {
    schema: z.number().int().min(0).default(10),
    doc: 'seconds a recycled container gets to drain in-flight calls before it is killed',
  },
  stopGraceSeconds: {
    schema: z.number().int().min(0).default(10),
    doc: 'seconds between SIGTERM and SIGKILL when an idle runtime is stopped',
  },
  routeSettleMs: {
    timer: 'ms',
    schema: z.number().int().min(0).default(600),
    doc: "after the epoch bump, before the drain: longer than the routers' 500 ms route freshness",
  },
  failuresBeforeRecycle: {
    schema: z.number().int().min(1).default(2),
    doc: 'failed health probes in a row before a runtime is recycled',
  },
  crashBackoffMs: {
    schema: z.number().int().min(1).max(60_000).default(2_000),
    doc: "a crash-looping tenant's first backoff once its circuit opens (3 failures in 60 s), doubled at each failure after, up to 60 s",
  },
  helperGraceMs: {
    schema: z.number().int().min(0).default(120_000),
    doc: 'volume-init helpers younger than this are presumed in use by an ensure',
  },
  auditSegmentMaxEntries: {
    schema: z.number().int().min(1).default(10_000),
    doc: 'entries per sealed audit segment at most',
  },
  maxAgeMs: {
    schema: z.number().int().positive().optional(),
    doc: 'recycle runtimes older than this',
    defaultText: 'no maximum age',
  },
} satisfies ConfigFields;

export const supervisorConfig = defineConfig(
  {
    title: 'Supervisor',
    usage: 'node supervisor/main.ts',
    summary:
      'Runs the Bulkhead supervisor: creates, health-checks and removes one hardened container per tenant.',
  },
  fields,
);

export type SupervisorSettings = ConfigOf<typeof fields>;
