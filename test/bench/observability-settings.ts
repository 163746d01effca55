// The settings test/bench/observability-overhead.ts compares and what each one turns on, shared by
// its in-process routers and by those in processes of their own (observability-router.ts).
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import type { AppDeps } from '../../router/app.ts';

export const SETTINGS = ['all off', 'tracing', 'metrics', 'audit', 'all on', 'all on 10%'] as const;
export type Setting = (typeof SETTINGS)[number];
/** "all on 10%" records one new trace in ten (BULKHEAD_TRACE_SAMPLE_RATIO=0.1). */
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
  };
}
