// Every authorization decision, permit and deny, as one structured log line: who (tenant, user,
// agent, delegation chain), what (tool) and why (reason). The tool name is logged as asked, so an
// operator sees probing for tools that do not exist.
import type { Logger } from 'pino';
import type { Principal } from '../identity/principal.ts';
import type { ToolDecision } from './tool-policy.ts';
import { recordedToolName } from '../../kernel/audit/audit-record.ts';

export function logToolDecision(
  logger: Logger,
  principal: Principal,
  tool: string,
  decision: ToolDecision,
): void {
  logger.info(
    {
      tenant: principal.tenant,
      user: principal.user,
      agent: principal.agent,
      ...(principal.actors.length > 0 ? { actors: principal.actors } : {}),
      issuer: principal.issuer,
      tool: recordedToolName(tool),
      decision: decision.permit ? 'permit' : 'deny',
      reason: decision.reason,
      ...(decision.permit || decision.answer !== 'step_up' ? {} : { required_scope: decision.scope }),
    },
    'authorization decision',
  );
}
