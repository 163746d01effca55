// Whether one proxy request may go out, and where to: the tenant's and pack's allowlists
// (egress/policy.ts), the address the name resolves to (egress/name-lookup.ts: within a deadline, a
// few lookups per tenant at once), then the upstream's shared budget (egress/upstream-budget.ts).
// The budget is charged last: it counts the upstream's calls for every tenant, and a request the
// gateway refuses for its name or its address never reaches the upstream. Charged first, a name
// that did not resolve (a resolver outage, a tenant's names that hang) spent every tenant's budget
// on calls the upstream never saw.
// Before all of these: no new call while too many audit entries wait for Redis (503).
// A refusal is an HTTP answer: 403 with a JSON body naming the host and the reason, 429 with
// `retry_after_ms` when the upstream's budget is spent, 502 when the name does not resolve in time.
import { isIP } from 'node:net';
import { errorRow, type ErrorCode } from '../kernel/errors/error-codes.ts';
import type { EgressCredential, EgressPolicy } from '../kernel/tenant/egress-policy.ts';
import type { NameResolver } from './name-lookup.ts';
import { decide, isPrivateAddress, type Destination } from './policy.ts';
import type { UpstreamBudget } from './upstream-budget.ts';

export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown> & { error: ErrorCode; reason: string };
}

export interface Admitted {
  address: string;
  upstream?: { name: string; credential?: EgressCredential };
  /** The upstream's budget was charged for it: given back if it never reaches the upstream. */
  charged?: true;
}

export function refusal(code: ErrorCode, reason: string, fields: Record<string, unknown> = {}): Refusal {
  return { status: errorRow(code).http ?? 400, headers: {}, body: { error: code, reason, ...fields } };
}

/** A refusal as the raw answer written on a socket the HTTP server no longer writes (a CONNECT's). */
export function refusalText(r: Refusal): string {
  const body = JSON.stringify(r.body);
  const headers = { 'content-type': 'application/json', connection: 'close', ...r.headers };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${r.status} Refused\r\n${lines.join('\r\n')}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** The refusal of every new call while too many audit entries wait for Redis: it is unaudited. */
export const AUDIT_UNAVAILABLE = 'audit_unavailable';

const REASONS = {
  egress_off: 'egress is off for this tenant',
  host_not_allowed: "the host is in neither the tenant's nor the pack's egress allowlist",
} as const;

export async function admit(options: {
  /** The tenant whose tunnel the request came through: whose lookups it counts against. */
  tenant: string;
  policy: EgressPolicy;
  pack: string | undefined;
  dest: Destination;
  budget: UpstreamBudget;
  names: NameResolver;
  /** As many audit entries wait for Redis as the gateway keeps (kernel/audit/audit-backlog.ts). */
  auditFull: boolean;
}): Promise<Admitted | Refusal> {
  const { dest } = options;
  const where = { host: dest.host, port: dest.port };
  // First: no call goes out, nor is refused for another reason, that the trail could not take.
  if (options.auditFull)
    return refusal('state_unavailable', AUDIT_UNAVAILABLE, {
      ...where,
      message: 'the audit trail is not taking entries: no upstream call until it does',
    });
  const decision = decide(options.policy, options.pack, dest);
  if (!decision.allowed)
    return refusal('egress_denied', decision.reason, { ...where, message: REASONS[decision.reason] });
  let address = dest.host;
  if (isIP(dest.host) === 0) {
    const resolved = await options.names.resolve(options.tenant, dest.host);
    if (!resolved.ok)
      return refusal('upstream_unreachable', resolved.reason, { ...where, message: resolved.message });
    const { addresses } = resolved;
    // Every address is checked, not just the one used: a name may not mix public and private ones.
    if (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address)))
      return refusal('egress_denied', 'private_address', {
        ...where,
        message:
          'the host name resolves to a private, loopback, link-local or reserved address; allow that address literally instead',
      });
    address = addresses[0]!.address;
  }
  const upstream = decision.upstream;
  const taken = upstream && (await options.budget.take(upstream.name));
  if (upstream && taken && !taken.admitted) {
    const spent = refusal('upstream_budget_exceeded', 'upstream_budget_spent', {
      ...where,
      upstream: upstream.name,
      limit: taken.limit,
      period_ms: 60_000,
      retry_after_ms: taken.retryAfterMs,
      message: `the ${upstream.name} upstream's budget of ${taken.limit} calls per minute is spent`,
    });
    spent.headers['retry-after'] = String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000)));
    return spent;
  }
  return { address, ...(upstream ? { upstream } : {}), ...(taken ? { charged: true } : {}) };
}

export function isRefusal(value: Admitted | Refusal): value is Refusal {
  return 'status' in value;
}
