// Isolation evidence for one tenant: the supervisor checks the live container against each control
// and probes from inside it. With a router probe, an agent of another tenant also tries to reach a
// canary record of this tenant through the router (router-probe.ts), which needs agents' access
// tokens from an identity provider: the caller supplies where they come from.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { IsolationReport } from '../../supervisor/client/isolation-report.ts';
import type { ControlPlane } from './context.ts';
import { crossTenantProbe, routerCaller } from './router-probe.ts';

/** The router's MCP endpoint and a way to get a tenant agent's access token for it. */
export interface RouterProbe {
  resourceUrl: string;
  agentToken(tenant: string): Promise<string>;
}

/** Where `verify --router` gets agents' access tokens: the development IdP, supplied by dev/cli. */
export type RouterProbeSource = (devDir: string) => Promise<RouterProbe>;

export interface VerifyOptions {
  /** Also attack the tenant through the router, as another tenant's agent. */
  router?: {
    probe: () => Promise<RouterProbe>;
    /** The attacking tenant (default: the first other active tenant). */
    intruder?: string;
    /** Called before the canary is written into the target, so the operator is told first. */
    seeding?: (target: string, intruder: string) => void;
  };
}

/** Checks the tenant's container, and saves the report as its latest evidence (`cp.evidence`). */
export async function verifyTenant(
  cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'evidence'>,
  id: string,
  options: VerifyOptions = {},
): Promise<IsolationReport> {
  // The report is of the record read here: kept for it, it is never shown as the evidence of a
  // tenant onboarded again under the id while this check ran (evidence.ts).
  const tenant = await cp.registry.require(id);
  const report = await collectEvidence(cp, id, options);
  await cp.evidence?.save(report, tenant.createdAt);
  return report;
}

async function collectEvidence(
  cp: Pick<ControlPlane, 'registry' | 'runtimes'>,
  id: string,
  options: VerifyOptions,
): Promise<IsolationReport> {
  const report = await cp.runtimes.verify(id);
  const { router } = options;
  if (!router) return report;
  const probe = await router.probe();
  const others = (await cp.registry.list()).filter((t) => t.id !== id && t.status === 'active');
  const intruder = router.intruder ?? others[0]?.id;
  if (!intruder)
    throw new BulkheadError('invalid_input', 'verify --router needs a second active tenant to attack from');
  router.seeding?.(id, intruder);
  report.checks.push(
    await crossTenantProbe({
      target: id,
      intruder,
      connect: async (tenant) => routerCaller(probe.resourceUrl, await probe.agentToken(tenant)),
    }),
  );
  report.pass = report.checks.every((c) => c.pass);
  return report;
}
