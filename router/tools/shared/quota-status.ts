// quota_status: what the caller may still do. Reads the tenant record (plan) and the tool surface
// this principal sees; no tenant data from the container.
import type { SharedToolHandler } from './shared-tool.ts';
import { structured } from './structured.ts';

export const quotaStatus: SharedToolHandler = (principal, _args, context) => {
  const plan = context.tenant?.plan;
  return Promise.resolve(
    structured({
      tenant: principal.tenant,
      plan: plan ? { name: plan.name, memoryMb: plan.memoryMb, cpus: plan.cpus, pids: plan.pids } : null,
      tools: context.tools.map((def) => ({
        name: def.name,
        version: def.version,
        writes: def.writes,
        max_payload_bytes: def.maxPayloadBytes,
      })),
      idempotency_window_ms: context.idempotencyWindowMs,
    }),
  );
};
