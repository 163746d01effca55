// The console's JSON API. Reading is for operators and auditors alike; acting (suspend, resume,
// recycle, verify) is for operators only, decided here on the server whatever the page shows, and
// every attempt, allowed or refused, lands in the tenant's audit trail with who and why.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SealedSource } from '../tenants/control-plane/audit-history.ts';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { offboardedDirsOf } from '../kernel/audit/segment-files.ts';
import { TenantIdSchema, type TenantRecord } from '../kernel/tenant/tenant-spec.ts';
import type { EvidenceStore } from '../tenants/control-plane/evidence.ts';
import {
  OPERATOR_ACTIONS,
  recordRefusedAction,
  runOperatorAction,
  type OperatorAction,
} from '../tenants/control-plane/operator-actions.ts';
import type { ControlPlane } from '../tenants/control-plane/context.ts';
import { auditPage, exportTrail, type AuditSource } from './audit-views.ts';
import type { AuthRoutes } from './auth/auth-routes.ts';
import type { Session } from './auth/sessions.ts';
import { readJson, sendJson } from './http/http-kit.ts';
import type { MetricsRing } from './metrics/metrics-ring.ts';
import type { RefusedActionBound } from './refused-actions.ts';
import type { TenantViews } from './tenant-views.ts';

export interface ApiOptions {
  auth: AuthRoutes;
  views: TenantViews;
  cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'audit'>;
  evidence: EvidenceStore;
  metrics: MetricsRing;
  /** The sealed segments and their key: the whole trail is shown, not only what Redis holds. */
  sealed?: SealedSource | undefined;
  /** How long an audit export may take before it is cut. */
  exportTimeoutMs: number;
  /** Which refused actions reach the audit trail: one a minute of each actor, tenant and action. */
  refusals: Pick<RefusedActionBound, 'admit'>;
}

/** Who acts, as the audit trail and the change log record them. */
export function actorOf(session: Session): string {
  return `console:${session.sub}`;
}

const TENANT_PATH = /^\/api\/tenants\/([^/]+)(?:\/(evidence|audit|audit\.jsonl|actions\/([a-z]+)))?$/;

export class ApiRoutes {
  readonly #o: ApiOptions;

  constructor(options: ApiOptions) {
    this.#o = options;
  }

  /** Answers a request under /api (the caller maps a thrown error to its answer). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const session = await this.#o.auth.session(req);
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/api/me')
      return sendJson(res, 200, { sub: session.sub, role: session.role, csrf: session.csrf });
    if (method === 'GET' && url.pathname === '/api/tenants')
      return sendJson(res, 200, await this.#o.views.page(url.searchParams));
    if (method === 'GET' && url.pathname === '/api/metrics')
      return sendJson(res, 200, this.#o.metrics.charts());
    const match = TENANT_PATH.exec(url.pathname);
    if (!match) throw new BulkheadError('unknown_id', `no such console resource: ${url.pathname}`);
    // Taken as it is: a tenant id needs no percent-decoding, and a malformed escape is bad input.
    const parsed = TenantIdSchema.safeParse(match[1]);
    if (!parsed.success) throw new BulkheadError('invalid_input', 'not a tenant id');
    const tenant = parsed.data;
    const view = match[2];
    if (method === 'GET' && view === undefined) return sendJson(res, 200, await this.#o.views.detail(tenant));
    if (method === 'GET' && view === 'evidence') {
      const record = await this.#o.cp.registry.require(tenant);
      return sendJson(res, 200, { report: await this.#o.evidence.latest(tenant, record.createdAt) });
    }
    if (method === 'GET' && view === 'audit') {
      // The record's createdAt binds the sealed segments shown to this tenant of the id.
      const record = await this.#registered(tenant);
      const source = { ...this.#source(tenant), createdAt: record.createdAt };
      return sendJson(res, 200, await auditPage(source, url.searchParams));
    }
    if (method === 'GET' && view === 'audit.jsonl') return this.#export(res, tenant, url.searchParams);
    const action = match[3];
    if (method === 'POST' && action !== undefined) return this.#act(req, res, session, tenant, action);
    throw new BulkheadError('method_not_allowed', `${method} is not served at ${url.pathname}`);
  }

  async #export(res: ServerResponse, tenant: string, query: URLSearchParams): Promise<void> {
    await exportTrail(this.#source(tenant), query, res, {
      timeoutMs: this.#o.exportTimeoutMs,
      admit: () => this.#registered(tenant),
    });
  }

  /**
   * The record of the tenant whose trail is read, or tenant_not_found saying where an offboarded
   * tenant's trail is kept. Both reads of a trail refuse a tenant without a record: what Redis holds
   * under its id then is no trail of a tenant the console can name (with sealing, only what routers
   * appended after offboarding ended the trail; without, the trail under its expiry, bound to no
   * tenant of the id), and the view showed it as an intact chain while the export refused it.
   */
  async #registered(tenant: string): Promise<TenantRecord> {
    const record = await this.#o.cp.registry.get(tenant);
    if (record) return record;
    const root = this.#o.sealed?.root;
    const moved = root ? await offboardedDirsOf(root, tenant) : [];
    const where = moved.length
      ? `; its sealed segments are in ${moved.join(', ')} under the audit directory, for \`bulkhead audit verify|export --dir\``
      : '';
    throw new BulkheadError(
      'tenant_not_found',
      `no tenant "${tenant}": the console reads the trails of registered tenants only; an offboarded tenant's is kept under its retention (docs/audit.md, "After offboarding")${where}`,
    );
  }

  #source(tenant: string): AuditSource {
    return { trail: this.#o.cp.audit, tenant, sealed: this.#o.sealed };
  }

  async #act(
    req: IncomingMessage,
    res: ServerResponse,
    session: Session,
    tenant: string,
    name: string,
  ): Promise<void> {
    this.#o.auth.checkAction(req, session);
    if (!(OPERATOR_ACTIONS as readonly string[]).includes(name))
      throw new BulkheadError('invalid_input', `no such action: ${name}`);
    const body = await readJson(req);
    const request = {
      tenant,
      action: name as OperatorAction,
      actor: actorOf(session),
      reason: typeof body['reason'] === 'string' ? body['reason'] : '',
    };
    if (session.role !== 'operator') {
      await this.#o.cp.registry.require(tenant);
      if (await this.#o.refusals.admit(request))
        await recordRefusedAction(this.#o.cp.audit, request, `refused: role ${session.role} may not act`);
      throw new BulkheadError('role_required', `only operators may ${name} a tenant`);
    }
    const result = await runOperatorAction({ ...this.#o.cp, evidence: this.#o.evidence }, request);
    sendJson(res, 200, result);
  }
}
