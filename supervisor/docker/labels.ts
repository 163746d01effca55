// Labels are the record of ownership: reconciliation after any restart trusts them, not memory.
export const LABELS = {
  managed: 'io.bulkhead.managed',
  namespace: 'io.bulkhead.namespace',
  tenant: 'io.bulkhead.tenant',
  specHash: 'io.bulkhead.spec-hash',
  /** The container defaults it was built with (container-spec.ts, `containerDefaultsHash`). */
  defaults: 'io.bulkhead.defaults',
  generation: 'io.bulkhead.generation',
  role: 'io.bulkhead.role',
} as const;
