// The egress gateway (docs/egress.md): a process outside every tenant container, with no
// Docker socket. On each pass it reads the tenant registry and keeps a few idle connections into
// the egress bridge of every active tenant whose policy is an allowlist (egress/tunnel-pool.ts); a
// connection the bridge starts to use carries one preamble line naming the pack, then an HTTP proxy
// request that egress/proxy.ts serves under that tenant's policy. Each request is audited and, when
// the gateway traces, a span (egress/egress-spans.ts).
import type { KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AuditBacklog } from '../kernel/audit/audit-backlog.ts';
import { AuditTrail } from '../kernel/audit/audit-trail.ts';
import { Scheduler } from '../kernel/process/scheduler.ts';
import { TenantRegistry } from '../kernel/registry/tenant-registry.ts';
import type { EgressCredential } from '../kernel/tenant/egress-policy.ts';
import type { Installation } from '../kernel/tenant/installation.ts';
import type { TenantRecord } from '../kernel/tenant/tenant-spec.ts';
import {
  EGRESS_SOCKET_NAME,
  MAX_PREAMBLE_BYTES,
  parsePreamble,
  readLine,
} from '../kernel/wire/egress-tunnel.ts';
import { tenantSocketDir } from '../kernel/wire/runtime-endpoint.ts';
import type { Tracing } from '../kernel/telemetry/tracing.ts';
import { serveMetrics } from '../kernel/process/metrics-endpoint.ts';
import { EgressMetrics } from './egress-metrics.ts';
import { recordEgressSpan } from './egress-spans.ts';
import { NameResolver } from './name-lookup.ts';
import { AUDIT_UNAVAILABLE } from './admission.ts';
import { createProxyServer } from './proxy.ts';
import type { TunnelContext, UpstreamEvent } from './upstream-event.ts';
import { TunnelPool, type PoolStats } from './tunnel-pool.ts';
import { UpstreamAgents } from './upstream-agents.ts';
import { RedisUpstreamBudget, type UpstreamBudget } from './upstream-budget.ts';

export interface EgressGatewayOptions {
  installation: Installation;
  runDir: string;
  logger: Logger;
  /** The gateway's Ed25519 private key: how it proves itself to each bridge (egress/tunnel-pool.ts). */
  signingKey: KeyObject;
  /** Where upstream credentials come from; without it an upstream that declares one is refused. */
  secrets?: CredentialSource;
  /** Replaces the Redis budget (unit tests). */
  budget?: UpstreamBudget;
  /** Where the gateway's spans go (kernel/telemetry/tracing.ts); none: no spans. */
  tracing?: Tracing | undefined;
  /** Prometheus /metrics on a listener of its own (egress/egress-metrics.ts); none: no metrics. */
  metrics?: { port: number; host: string; tenantLabel: boolean } | undefined;
  poolSize: number;
  maxConnections: number;
  /** Upstream connections of a tenant's plain-HTTP requests at most, idle ones included. */
  maxUpstreamSockets: number;
  dialsPerSecond: number;
  /** Audit entries waiting for Redis, every tenant's, from which on no new call is admitted. */
  auditBacklog: number;
  refreshIntervalMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface RunningEgressGateway {
  /** One pass now: re-read the registry and top up every tenant's idle connections. */
  refresh(): Promise<void>;
  stats(tenant: string): PoolStats | undefined;
  /** Audit entries Redis has not taken yet (kernel/audit/audit-backlog.ts). */
  auditWaiting(): number;
  /** Where Prometheus scrapes the gateway, when it has metrics. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** A tenant's secret values by name (the secret store, kernel/secrets/secret-store.ts). */
export interface CredentialSource {
  get(tenant: string, name: string): Promise<string | undefined>;
}

const PREAMBLE_TIMEOUT_MS = 10_000;

interface TenantEntry {
  record: TenantRecord;
  pool: TunnelPool;
}

export async function startEgressGateway(options: EgressGatewayOptions): Promise<RunningEgressGateway> {
  const { installation, logger } = options;
  const redis = new Redis(installation.redis);
  const registry = new TenantRegistry({ redis, prefix: installation.registryPrefix });
  const trail = new AuditTrail({ redis, prefix: installation.registryPrefix });
  const prefix = installation.registryPrefix;
  const backlog = new AuditBacklog({ trail, redis, prefix, logger, limit: options.auditBacklog });
  const metrics = options.metrics && new EgressMetrics({ tenantLabel: options.metrics.tenantLabel });
  metrics?.watchAuditBacklog({ waiting: () => backlog.waiting, limit: options.auditBacklog });
  const budget = options.budget ?? new RedisUpstreamBudget({ redis, prefix: installation.registryPrefix });
  const tenants = new Map<string, TenantEntry>();
  const contexts = new WeakMap<Socket, TunnelContext>();
  const agents = new UpstreamAgents({ maxSockets: options.maxUpstreamSockets });

  async function credential(tenant: string, wanted: EgressCredential): Promise<string | undefined> {
    const record = tenants.get(tenant)?.record;
    const ref = record?.secrets.find((s) => s.name === wanted.secret)?.ref;
    // Only this tenant's own store: a reference into another tenant's slot is never followed.
    if (!options.secrets || ref !== `secret://${tenant}/${wanted.secret}`) return undefined;
    return options.secrets.get(tenant, wanted.secret).catch(() => undefined);
  }

  /**
   * One entry in the tenant's trail, logged too: every request or tunnel, and each tunnel's opening.
   * Kept until Redis takes it. A request refused because too many wait is not: it is logged only.
   */
  function audit(event: UpstreamEvent): void {
    const { ctx, decision, reason, call } = event;
    const { tenant } = ctx;
    if (reason === AUDIT_UNAVAILABLE) {
      logger.warn({ tenant, decision, reason, waiting: backlog.waiting, ...call }, 'upstream call unaudited');
      return;
    }
    logger.info({ tenant, decision, reason, ...call }, 'upstream call');
    backlog.add({ tenant, user: null, agent: null, tool: 'egress', decision, reason, upstream: call });
  }

  const proxy: Server = createProxyServer(
    {
      budget,
      // One for every tenant: the threads its lookups share are the process's.
      names: new NameResolver(),
      credential,
      agents,
      auditFull: () => backlog.full,
      connectTimeoutMs: options.connectTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      observe(event) {
        audit(event);
        metrics?.observe(event);
        if (options.tracing) recordEgressSpan(options.tracing.tracer, event);
      },
      // Audited as it opened, traced once it ended.
      opened: audit,
    },
    // The policy in force now, not when the connection opened: a keep-alive connection's next
    // request meets a narrowed allowlist.
    (socket) => {
      const context = contexts.get(socket);
      const entry = context && tenants.get(context.tenant);
      if (!context || !entry) return undefined;
      // The bridge's link names the call in flight when the connection opened: the connection's
      // first request only; a kept-alive connection's later requests may serve another call.
      const link = context.link;
      if (link !== undefined) contexts.set(socket, { ...context, link: undefined });
      return { ...context, policy: entry.record.egress, link };
    },
  );

  /** Reads the preamble line (bounded), then hands the connection to the proxy under its tenant. */
  function onTunnel(tenant: string, socket: Socket): void {
    // The line must come at once; the HTTP server's own timeouts apply after it.
    void readLine(socket, { maxBytes: MAX_PREAMBLE_BYTES, timeoutMs: PREAMBLE_TIMEOUT_MS }).then((line) => {
      const preamble = line === null ? null : parsePreamble(line);
      const entry = tenants.get(tenant);
      if (preamble === null || !entry) {
        socket.destroy();
        return;
      }
      contexts.set(socket, { tenant, policy: entry.record.egress, ...preamble });
      proxy.emit('connection', socket);
      socket.resume();
    });
  }

  async function refresh(): Promise<void> {
    const records = await registry.list();
    const wanted = new Set<string>();
    for (const record of records) {
      if (record.status !== 'active' || record.egress.mode !== 'allowlist') continue;
      wanted.add(record.id);
      const target = {
        tenant: record.id,
        socketPath: join(
          tenantSocketDir(options.runDir, installation.namespace, record.id),
          EGRESS_SOCKET_NAME,
        ),
        uid: record.uid,
      };
      let entry = tenants.get(record.id);
      if (!entry) {
        const pool = new TunnelPool({
          target,
          size: options.poolSize,
          maxInUse: options.maxConnections,
          dialsPerSecond: options.dialsPerSecond,
          signingKey: options.signingKey,
          onTunnel: (socket) => onTunnel(record.id, socket),
          logger,
        });
        entry = { record, pool };
        tenants.set(record.id, entry);
      }
      entry.record = record;
      entry.pool.retarget(target);
      entry.pool.topUp();
    }
    // Egress turned off, tenant suspended or gone: its connections end now, in use or not.
    for (const [id, entry] of tenants)
      if (!wanted.has(id)) {
        entry.pool.close();
        agents.drop(id);
        tenants.delete(id);
      }
  }

  await refresh();
  const scheduler = new Scheduler({ logger });
  scheduler.every('egress-refresh', options.refreshIntervalMs, refresh);
  const metricsServer =
    metrics && options.metrics
      ? await serveMetrics({
          host: options.metrics.host,
          port: options.metrics.port,
          registry: metrics.registry,
        })
      : undefined;
  logger.info({ tenants: tenants.size, metrics: metricsServer?.url }, 'egress gateway started');

  return {
    refresh,
    stats: (tenant) => tenants.get(tenant)?.pool.stats,
    auditWaiting: () => backlog.waiting,
    metricsUrl: metricsServer?.url,
    async close() {
      await scheduler.stop();
      await metricsServer?.close();
      for (const entry of tenants.values()) entry.pool.close();
      tenants.clear();
      agents.close();
      proxy.close();
      await backlog.close();
      redis.disconnect();
    },
  };
}
