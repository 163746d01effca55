// What the proxy (egress/proxy.ts) knows of each request and reports once it ended, refused or
// served: the gateway audits it in the tenant's trail and traces it (egress/egress-spans.ts).
import type { UpstreamCall } from '../kernel/audit/audit-record.ts';
import type { EgressPolicy } from '../kernel/tenant/egress-policy.ts';
import type { Refusal } from './admission.ts';
import type { Destination } from './policy.ts';

/** Whose tunnel a connection came through: known from the socket the gateway dialed, never from its bytes. */
export interface TunnelContext {
  tenant: string;
  policy: EgressPolicy;
  pack: string | undefined;
  /** The bridge's trace link for this request (the connection's first only): a claim, for a span link. */
  link?: string | undefined;
}

/** One upstream request or tunnel the proxy handled, refused or served: audited and traced. */
export interface UpstreamEvent {
  ctx: TunnelContext;
  decision: 'permit' | 'deny';
  reason: string;
  /** Why it failed, for a span's `error.type`: a refusal's code, unreachable, an HTTP error status. */
  errorType: string | undefined;
  call: UpstreamCall;
  /** When the request reached the gateway (epoch ms). */
  started: number;
}

/** How a request ended, as the proxy measured it. */
export interface UpstreamOutcome {
  status: number;
  sent: number;
  received: number;
  latencyMs: number;
  upstream?: string;
  decision: 'permit' | 'deny';
  reason: string;
  errorType?: string;
}

export interface UpstreamRequest {
  ctx: TunnelContext;
  dest: Destination;
  method: string;
  started: number;
}

export function upstreamEvent(request: UpstreamRequest, outcome: UpstreamOutcome): UpstreamEvent {
  const { ctx, dest, method, started } = request;
  const { decision, reason, errorType } = outcome;
  return {
    ctx,
    decision,
    reason,
    errorType,
    started,
    call: {
      host: dest.host,
      port: dest.port,
      method,
      status: outcome.status,
      bytes_sent: outcome.sent,
      bytes_received: outcome.received,
      latency_ms: outcome.latencyMs,
      duration_ms: Date.now() - started,
      pack: ctx.pack ?? null,
      upstream: outcome.upstream ?? null,
    },
  };
}

/** A refused request's outcome: nothing sent or received. */
export function refusedOutcome(r: Refusal): UpstreamOutcome {
  return {
    status: r.status,
    sent: 0,
    received: 0,
    latencyMs: 0,
    decision: 'deny',
    reason: r.body.reason,
    errorType: r.body.error,
    ...(typeof r.body.upstream === 'string' ? { upstream: r.body.upstream } : {}),
  };
}

/** A CONNECT tunnel as it opened: permitted, connected after `latencyMs`, nothing relayed yet. */
export function tunnelOpened(
  request: UpstreamRequest,
  latencyMs: number,
  upstream: string | undefined,
): UpstreamEvent {
  const opened = { status: 200, sent: 0, received: 0, latencyMs, decision: 'permit' } as const;
  return upstreamEvent(request, { ...opened, reason: 'tunnel_opened', ...(upstream ? { upstream } : {}) });
}
