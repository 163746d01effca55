// Express middleware: a request to /mcp must carry a valid bearer token. Failures get 401 with a
// WWW-Authenticate challenge pointing at the Protected Resource Metadata (RFC 9728, MCP spec).
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Principal } from '../identity/principal.ts';
import { InvalidTokenError, type TokenVerifier } from './token-verifier.ts';

export interface BearerAuthOptions {
  verify: TokenVerifier;
  resourceMetadataUrl: string;
  scopesSupported: string[];
  logger: Logger;
}

export interface AuthenticatedRequest extends Request {
  auth?: {
    token: string;
    clientId: string;
    scopes: string[];
    expiresAt: number;
    extra: { principal: Principal };
  };
}

function challenge(options: BearerAuthOptions, error?: { code: string; description: string }): string {
  const params = [
    `resource_metadata="${options.resourceMetadataUrl}"`,
    `scope="${options.scopesSupported.join(' ')}"`,
  ];
  if (error)
    params.push(`error="${error.code}"`, `error_description="${error.description.replace(/"/g, "'")}"`);
  return `Bearer ${params.join(', ')}`;
}

export function bearerAuth(options: BearerAuthOptions) {
  return async (req: AuthenticatedRequest, res: Response, next: NextFunction): Promise<void> => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(header) : null;
    if (!match?.[1]) {
      res.status(401).set('WWW-Authenticate', challenge(options)).json({
        error: 'invalid_token',
        error_description: 'a bearer access token is required',
      });
      return;
    }
    try {
      const principal = await options.verify(match[1]);
      // The raw token stays here: nothing downstream (and no container) ever receives it.
      req.auth = {
        token: '',
        clientId: principal.agent,
        scopes: principal.scopes,
        expiresAt: principal.expiresAt,
        extra: { principal },
      };
      next();
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) {
        next(error);
        return;
      }
      options.logger.info({ reason: error.message }, 'rejected access token');
      res
        .status(401)
        .set('WWW-Authenticate', challenge(options, { code: 'invalid_token', description: error.message }))
        .json({ error: 'invalid_token', error_description: error.message });
    }
  };
}
