// The isolation evidence report: what `verify` returns for one tenant. Produced by the supervisor
// (the only holder of the Docker socket) and formatted by the CLI; every check says pass or fail
// and why, and names the control it evidences (docs/architecture.md, "Tenant containers").
import { z } from 'zod';

export const IsolationCheckSchema = z.strictObject({
  id: z.string(),
  control: z.string(),
  /**
   * `docker`: from the engine's view of the container; `probe`: run inside the container; `host`:
   * the tenant's socket as the host sees it; `router`: through the router.
   */
  source: z.enum(['docker', 'probe', 'host', 'router']),
  pass: z.boolean(),
  why: z.string(),
});
export type IsolationCheck = z.infer<typeof IsolationCheckSchema>;

export const IsolationReportSchema = z.strictObject({
  tenantId: z.string(),
  runtimeId: z.string().nullable(),
  isolation: z.string(),
  checkedAt: z.string(),
  pass: z.boolean(),
  checks: z.array(IsolationCheckSchema),
});
export type IsolationReport = z.infer<typeof IsolationReportSchema>;

export function summarize(report: IsolationReport): string {
  const passed = report.checks.filter((c) => c.pass).length;
  const failed = report.checks.filter((c) => !c.pass).map((c) => c.id);
  return failed.length === 0
    ? `isolation evidence: ${passed}/${report.checks.length} checks pass`
    : `isolation evidence: ${failed.length} of ${report.checks.length} checks FAIL (${failed.join(', ')})`;
}
