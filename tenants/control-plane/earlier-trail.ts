// A tenant id can be registered again after its tenant was offboarded. What the earlier tenant left
// of its trail in Redis (all of it when no signing key sealed it, or the refusals routers appended
// after its trail was closed, under the expiry offboarding gave them) is set aside first, before
// the new record exists, so that no call of the new tenant is appended to the old chain: the new
// tenant's trail starts at seq 1, and neither shows the other's entries nor is dropped with them
// when their expiry comes (kernel/redis/lua/audit-set-aside.lua). Refused once the id has a record
// again (another operator registered it since this command read it free): that trail is live.
import type { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { DEFAULT_AUDIT_DAYS } from '../../kernel/tenant/tenant-spec.ts';

/** Sets aside an earlier tenant's trail of `id` in Redis, if any, and says so. */
export async function setAsideEarlierTrail(
  audit: Pick<AuditTrail, 'setAside'>,
  id: string,
  say: (line: string) => void,
): Promise<void> {
  const aside = await audit.setAside(id, DEFAULT_AUDIT_DAYS);
  if (aside)
    say(
      `an earlier tenant "${id}" left ${aside.entries} audit entries in Redis: kept apart under ${aside.key} until their retention ends`,
    );
}
