// The settings test/bench/observability-overhead.ts compares and what each one turns on, shared by
// its in-process routers and by those in processes of their own (observability-router.ts).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as AuditTrailModule from '../../kernel/audit/audit-trail.ts';
import type * as AuditRecordModule from '../../kernel/audit/audit-record.ts';
import type * as TracingModule from '../../kernel/telemetry/tracing.ts';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import type * as MetricsModule from '../../router/metrics/router-metrics.ts';
import type { AppDeps } from '../../router/app.ts';
import type * as HarnessModule from '../support/auth-harness.ts';
import type { RoundTrip } from './redis-floor.ts';

export const SETTINGS = [
  'all off',
  'tracing',
  'metrics',
  'audit',
  'audit floor',
  'all on',
  'all on 10%',
  'all off again',
] as const;
export type Setting = (typeof SETTINGS)[number];
/**
 * "all on 10%" records one new trace in ten (BULKHEAD_TRACE_SAMPLE_RATIO=0.1). "audit floor" keeps
 * no trail: the router builds each call's record as with the audit on, and its answer waits for a
 * Redis round trip of an empty script instead of the record's append, grouped as the trail groups
 * its appends (redis-floor.ts): no digest, no check, no hash, nothing stored. "all off again" is
 * "all off" in a router of its own: its change against "all off" is what two routers running the
 * same thing differ by in that run, the method's own spread, printed beside the settings' changes.
 */
export const SAMPLED = 0.1;

export type Observability = Pick<AppDeps, 'audit' | 'digester' | 'metrics' | 'tracing'>;

export function isSetting(value: string | undefined): value is Setting {
  return SETTINGS.includes(value as Setting);
}

/** Builds each part a setting turns on; a part the setting leaves off is never asked for. */
export interface ObservabilityParts {
  tracing(sampleRatio: number): Tracing;
  metrics(): NonNullable<Observability['metrics']>;
  audit(): Pick<Observability, 'audit' | 'digester'>;
  /** The audit floor's round trip. */
  roundTrip(): RoundTrip;
}

export function observabilityFor(setting: Setting, parts: ObservabilityParts): Observability {
  const all = setting === 'all on' || setting === 'all on 10%';
  const ratio = setting === 'all on 10%' ? SAMPLED : 1;
  return {
    ...(all || setting === 'tracing'
      ? { tracing: { tracing: parts.tracing(ratio), identities: false } }
      : {}),
    ...(all || setting === 'metrics' ? { metrics: parts.metrics() } : {}),
    ...(all || setting === 'audit' ? parts.audit() : {}),
    ...(setting === 'audit floor' ? { audit: { append: parts.roundTrip() } } : {}),
  };
}

/** What a router of the benchmark is built from, loaded from a checkout (this one, or --before's). */
export async function loadCheckout(dir: string) {
  const load = <M>(path: string): Promise<M> => import(pathToFileURL(resolve(dir, path)).href) as Promise<M>;
  const [{ AuditTrail }, { ArgsDigester }, { startTracing }, { RouterMetrics }, harness] = await Promise.all([
    load<typeof AuditTrailModule>('kernel/audit/audit-trail.ts'),
    load<typeof AuditRecordModule>('kernel/audit/audit-record.ts'),
    load<typeof TracingModule>('kernel/telemetry/tracing.ts'),
    load<typeof MetricsModule>('router/metrics/router-metrics.ts'),
    load<typeof HarnessModule>('test/support/auth-harness.ts'),
  ]);
  return { AuditTrail, ArgsDigester, startTracing, RouterMetrics, harness };
}

/** A full garbage collection on demand: run between rounds, outside their measured time. */
export function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
