// The root supervisor's worker reads every runtime job's data with these schemas: a job whose
// tenant is no tenant id is refused before any path, name or key is built from it (`..` would
// name the socket directories' run directory, which a removal empties as root).
import { describe, expect, it } from 'vitest';
import { RUNTIME_JOBS } from '../../supervisor/client/runtime-jobs.ts';

const NOT_TENANTS = ['..', '../prod', 'acme/../../etc', '', 'a', 'Acme', 'acme-', '-acme', 'a'.repeat(33)];

describe('runtime jobs', () => {
  it.each(NOT_TENANTS)('refuses a job for %j, which is no tenant id', (tenantId) => {
    expect(RUNTIME_JOBS.remove.data.safeParse({ tenantId, purgeData: true }).success).toBe(false);
    expect(RUNTIME_JOBS.ensure.data.safeParse({ tenantId }).success).toBe(false);
    expect(RUNTIME_JOBS.recycle.data.safeParse({ tenantId, reason: 'test' }).success).toBe(false);
    for (const name of ['inspect', 'verify', 'prepare'] as const)
      expect(RUNTIME_JOBS[name].data.safeParse({ tenantId }).success).toBe(false);
  });

  it("takes a tenant's own id", () => {
    expect(RUNTIME_JOBS.remove.data.parse({ tenantId: 'acme-2', purgeData: false })).toEqual({
      tenantId: 'acme-2',
      purgeData: false,
    });
  });
});
