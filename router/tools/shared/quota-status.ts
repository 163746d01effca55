// quota_status: what the caller may still do. Reads the tenant record (plan), the tool surface this
// principal sees and each rate-limit layer's live usage (looked at, not charged: the quota_status
// call itself was charged like any other); no tenant data from the container.
import type { SharedToolHandler } from './shared-tool.ts';
import { structured } from './structured.ts';

export const quotaStatus: SharedToolHandler = async (principal, _args, context) => {
  const plan = context.tenant?.plan;
  const layers = await context.rateLimits();
  return structured({
    tenant: principal.tenant,
    plan: plan ? { name: plan.name, memoryMb: plan.memoryMb, cpus: plan.cpus, pids: plan.pids } : null,
    tools: context.tools().map((def) => ({
      name: def.name,
      version: def.version,
      writes: def.writes,
      max_payload_bytes: def.maxPayloadBytes,
    })),
    idempotency_window_ms: context.idempotencyWindowMs,
    rate_limits: layers.map((layer) => ({ ...layer, used: layer.limit - layer.remaining })),
  });
};
