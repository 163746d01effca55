// Human-readable forms of what the commands return: the isolation evidence report and a tenant.
import { summarize, type IsolationReport } from '../../supervisor/client/isolation-report.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

export function formatReport(report: IsolationReport): string {
  const lines = [
    `Isolation evidence for tenant ${report.tenantId} (${report.isolation}), container ${report.runtimeId?.slice(0, 12) ?? 'none'}, ${report.checkedAt}`,
  ];
  for (const check of report.checks) {
    lines.push(`  ${check.pass ? 'PASS' : 'FAIL'}  ${check.id.padEnd(24)} ${check.control}: ${check.why}`);
  }
  lines.push(summarize(report));
  return lines.join('\n');
}

export function claimMapping(tenant: TenantRecord): string {
  if (tenant.issuers.length === 0)
    return `tokens of the installation's issuer with claim tenant="${tenant.id}" (roles from "roles")`;
  return tenant.issuers
    .map(
      (i) =>
        `tokens of ${i.issuer} with claim ${i.tenantClaim}="${tenant.id}" (roles from "${i.rolesClaim}")`,
    )
    .join('; ');
}
