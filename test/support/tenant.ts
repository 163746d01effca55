import { TenantRecordSchema, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

/** A valid tenant record for tests; defaults filled by the schema itself. */
export function tenantRecord(id: string, overrides: Partial<TenantRecord> = {}): TenantRecord {
  return TenantRecordSchema.parse({
    id,
    displayName: id,
    uid: 100_100,
    plan: { name: 'small', memoryMb: 128, cpus: 0.5, pids: 64, tmpMb: 16 },
    isolation: 'runc',
    status: 'active',
    createdAt: new Date().toISOString(),
    generation: 1,
    ...overrides,
  });
}
