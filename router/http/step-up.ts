// Step-up authorization at the HTTP layer: a `tools/call` that the principal may otherwise make,
// but whose token lacks the tool's scope, is answered 403 with `WWW-Authenticate: Bearer
// error="insufficient_scope", scope="<needed>", resource_metadata=...` (MCP authorization spec,
// RFC 6750 section 3.1), so a client can re-authorize for that scope and retry. This is an HTTP
// answer, so it is decided here, before the MCP handler (which can only answer JSON-RPC); the
// decision itself is the same pure policy the MCP server applies (authz/tool-policy.ts).
//
// Every other denial passes through untouched: the MCP server answers it like an unknown tool, so
// nothing here reveals whether a tool exists to a principal that may not use it.
import express, { type NextFunction, type Response } from 'express';
import type { Logger } from 'pino';
import { logToolDecision } from '../authz/decision-log.ts';
import type { TenantLookup } from '../tenancy/tenant-directory.ts';
import { decideCall } from '../tools/tool-catalog.ts';
import type { ToolSurface } from '../tools/tool-surface.ts';
import type { AuthenticatedRequest } from '../auth/bearer-auth.ts';

export interface StepUpOptions {
  tenants: TenantLookup;
  /** The served tool surface (pins, shared tools, drift guard) the decision looks tools up in. */
  surface?: ToolSurface;
  resourceMetadataUrl: string;
  maxBodyBytes: number;
  logger: Logger;
}

interface BodyParserError {
  type?: string;
  status?: number;
}

function toolCallName(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const message = body as { method?: unknown; params?: { name?: unknown } };
  if (message.method !== 'tools/call') return undefined;
  const name = message.params?.name;
  return typeof name === 'string' ? name : undefined;
}

/** JSON body parser plus the step-up check. The parsed body stays on `req.body` for the MCP handler. */
export function stepUpChallenge(options: StepUpOptions) {
  const parseJson = express.json({ limit: options.maxBodyBytes, strict: false });
  return (req: AuthenticatedRequest, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    parseJson(req, res, (parseError?: unknown) => {
      if (parseError) {
        const { type, status } = parseError as BodyParserError;
        const tooLarge = type === 'entity.too.large';
        res.status(tooLarge ? 413 : (status ?? 400)).json({
          jsonrpc: '2.0',
          id: null,
          error: tooLarge
            ? { code: -32600, message: `request body exceeds ${options.maxBodyBytes} bytes` }
            : { code: -32700, message: 'Parse error' },
        });
        return;
      }
      const name = toolCallName(req.body);
      const principal = req.auth?.extra.principal;
      if (name === undefined || !principal) {
        next();
        return;
      }
      options.tenants.get(principal.tenant).then((tenant) => {
        const decision = decideCall(principal, tenant, name, options.surface);
        if (decision.permit || decision.answer !== 'step_up') {
          next();
          return;
        }
        logToolDecision(options.logger, principal, name, decision);
        const description = `the tool needs the scope "${decision.scope}"`;
        res
          .status(403)
          .set(
            'WWW-Authenticate',
            `Bearer error="insufficient_scope", scope="${decision.scope}", resource_metadata="${options.resourceMetadataUrl}", error_description="${description.replace(/"/g, "'")}"`,
          )
          .json({ error: 'insufficient_scope', error_description: description, scope: decision.scope });
      }, next);
    });
  };
}
