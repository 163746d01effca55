// What the audit tests share: a namespace with its Redis trail and registry, the tenants registered,
// an installation's audit keys and directory, and the supervisor's sealer over them with a clock the
// test can move (retention).
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { AuditTrail, type AuditEvent } from '../../kernel/audit/audit-trail.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { AuditSealer, type AuditSealerOptions } from '../../supervisor/audit/audit-sealer.ts';
import { AuditShipper, type AuditShipperOptions } from '../../supervisor/audit/audit-shipper.ts';
import { ensureAuditKeys, type AuditKeyFiles } from '../../tenants/control-plane/audit-segments.ts';
import { runCli, type CliResult } from './cli.ts';
import { ROOT } from './compose.ts';
import { testNamespace, type TestNamespace } from './namespace.ts';

/** A permitted, successful tools/call record of `tenant`'s agent-1 for user u1. */
export function callEvent(tenant: string, tool: string, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    tenant,
    user: 'u1',
    agent: 'agent-1',
    tool,
    decision: 'permit',
    reason: 'ok',
    kind: 'call',
    status: 'ok',
    ...extra,
  };
}

export interface AuditHarness {
  ns: TestNamespace;
  redis: Redis;
  trail: AuditTrail;
  registry: TenantRegistry;
  keys: AuditKeyFiles;
  privateKey: KeyObject;
  /** The installation's audit directory: one sub-directory of segments per tenant. */
  auditDir: string;
  /** The sealer's clock: now, unless a test sets `at` (undefined again: now). */
  clock: { at: Date | undefined };
  /** The supervisor's sealer over this trail and directory. */
  sealer(options: Pick<AuditSealerOptions, 'maxEntries'> & Partial<AuditSealerOptions>): AuditSealer;
  close(): Promise<void>;
}

export async function auditHarness(name: string, tenants: string[]): Promise<AuditHarness> {
  const ns = await testNamespace(name);
  const redis = new Redis(ns.installation.redis);
  const trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
  const registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  for (const id of tenants) await registry.create({ id, plan: planByName('small'), isolation: 'runc' });
  const keys = await ensureAuditKeys(join(ns.runDir, 'keys'));
  const privateKey = createPrivateKey(await readFile(keys.signingKeyFile, 'utf8'));
  const auditDir = join(ns.runDir, 'audit');
  const clock: { at: Date | undefined } = { at: undefined };
  return {
    ns,
    redis,
    trail,
    registry,
    keys,
    privateKey,
    auditDir,
    clock,
    sealer: (options) =>
      new AuditSealer({
        trail,
        tenants: registry,
        dir: auditDir,
        privateKey,
        logger: pino({ level: 'silent' }),
        now: () => clock.at ?? new Date(),
        ...options,
      }),
    async close() {
      redis.disconnect();
      await ns.cleanup();
    },
  };
}

/** `promise`, or a rejection after `ms`: an export that hangs fails its test instead of stalling it. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/**
 * The supervisor's shipper of the harness's segments to the OTLP/HTTP logs endpoint `logsUrl` (a
 * test's receiver), with the real exporter, signing its shipped records with the harness's key.
 */
export function shipperTo(
  h: AuditHarness,
  logsUrl: string,
  options: Pick<Partial<AuditShipperOptions>, 'metrics'> = {},
): AuditShipper {
  return new AuditShipper({
    dir: h.auditDir,
    privateKey: h.privateKey,
    exporter: new OTLPLogExporter({ url: logsUrl, timeoutMillis: 5_000 }),
    logger: pino({ level: 'silent' }),
    ...options,
  });
}

/** The operator CLI as an auditor runs it on the harness's sealed segments (its directory and key). */
export function auditCli(h: AuditHarness): (...args: string[]) => Promise<CliResult> {
  return (...args) =>
    runCli(
      {
        namespace: h.ns.namespace,
        devDir: join(h.ns.runDir, 'dev'),
        extra: { BULKHEAD_AUDIT_DIR: h.auditDir, BULKHEAD_AUDIT_PUBLIC_KEY_FILE: h.keys.publicKeyFile },
      },
      args,
    );
}

/**
 * A sealer of `tenant`'s segment killed at `step` (test/support/crash-while-sealing-main.ts: the
 * rename of its first directory, or the link of a segment's temporary file); the signal it died of.
 */
export function crashWhileSealing(
  h: AuditHarness,
  options: { tenant: string; readerGid: number; step: 'rename' | 'link' },
): Promise<NodeJS.Signals | null> {
  const script = join(ROOT, 'test/support/crash-while-sealing-main.ts');
  const args = [script, h.auditDir, options.tenant, String(options.readerGid), options.step];
  return new Promise((resolve) => {
    execFile(process.execPath, args, (error) =>
      resolve((error as { signal?: NodeJS.Signals } | null)?.signal ?? null),
    );
  });
}
