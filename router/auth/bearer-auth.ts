// Express middleware: a request to /mcp must carry a valid bearer token. Failures get 401 with a
// WWW-Authenticate challenge pointing at the Protected Resource Metadata (RFC 9728, MCP spec), built
// by the SDK's bearerAuthChallengeResponse. The verified principal and the tenant record the
// verifier read go to `req.auth.extra`, which the Node adapter hands on as `authInfo`.
//
// Not the SDK's verifyBearerToken / requireBearerAuth: their expiry check ignores the configured
// clock tolerance, and they take the token from a split on spaces (anything after it ignored);
// this middleware accepts exactly `Bearer <token68>` (the scheme in any case) and token-verifier.ts
// checks the token.
import { bearerAuthChallengeResponse, OAuthError, OAuthErrorCode } from '@modelcontextprotocol/server';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { Principal } from '../identity/principal.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { AuthFloodGuard } from './auth-flood-guard.ts';
import { InvalidTokenError, type TokenVerifier } from './token-verifier.ts';
import type { RouterMetrics } from '../metrics/router-metrics.ts';

export interface BearerAuthOptions {
  verify: TokenVerifier;
  resourceMetadataUrl: string;
  /** The scopes a challenge names: every scope the router advertises now (advertised-scopes.ts). */
  scopesSupported: () => readonly string[];
  logger: Logger;
  /** Refusals are counted by reason (router/metrics/). */
  metrics?: RouterMetrics | undefined;
  /** Limits refused tokens per source address before they are verified (auth-flood-guard.ts). */
  floodGuard?: AuthFloodGuard | undefined;
}

export interface AuthenticatedRequest extends Request {
  auth?: {
    token: string;
    clientId: string;
    scopes: string[];
    expiresAt: number;
    extra: { principal: Principal; tenant: TenantRecord };
  };
}

/**
 * Takes the verified token off the request: the SDK's Node adapter copies every header into the web
 * Request its handlers see (and converting a token of a kilobyte or more costs a few µs per call), and
 * no handler past this point needs it. Both forms go: the parsed headers and the raw pairs.
 */
function withoutAuthorization(req: Request): void {
  delete req.headers.authorization;
  const raw = req.rawHeaders;
  for (let at = raw.length - 2; at >= 0; at -= 2)
    if (raw[at]?.toLowerCase() === 'authorization') raw.splice(at, 2);
}

/**
 * Whether the request carries more than one Authorization header. Node keeps the first and drops
 * the others from `req.headers`, while a proxy or gateway in front may read the last: each would
 * then take the request for another principal's. RFC 6750 (section 3.1) calls such a request
 * malformed (`invalid_request`, 400).
 */
function repeatsAuthorization(req: Request): boolean {
  let seen = 0;
  const raw = req.rawHeaders;
  for (let at = 0; at < raw.length; at += 2) if (raw[at]?.toLowerCase() === 'authorization') seen++;
  return seen > 1;
}

/** Writes a web Response (the SDK helpers' answers) to Express. */
async function send(res: Response, answer: globalThis.Response): Promise<void> {
  res.status(answer.status);
  answer.headers.forEach((value, name) => res.setHeader(name, value));
  res.end(Buffer.from(await answer.arrayBuffer()));
}

export function bearerAuth(options: BearerAuthOptions) {
  const refuse = (description: string): globalThis.Response =>
    bearerAuthChallengeResponse(new OAuthError(OAuthErrorCode.InvalidToken, description), {
      requiredScopes: [...options.scopesSupported()],
      resourceMetadataUrl: options.resourceMetadataUrl,
    });
  // A request without credentials gets a challenge without an error code (RFC 6750 section 3.1);
  // the SDK's helper always names one, so this header is ours.
  const noTokenChallenge = () =>
    `Bearer resource_metadata="${options.resourceMetadataUrl}", scope="${options.scopesSupported().join(' ')}"`;

  return async (req: AuthenticatedRequest, res: Response, next: NextFunction): Promise<void> => {
    if (repeatsAuthorization(req)) {
      options.metrics?.authFailed('malformed');
      const error = new OAuthError(OAuthErrorCode.InvalidRequest, 'more than one Authorization header');
      await send(res, bearerAuthChallengeResponse(error));
      return;
    }
    const header = req.headers.authorization;
    // The scheme in any case (RFC 9110 section 11.1: it is case-insensitive), one space, the token.
    const match = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header) : null;
    if (!match?.[1]) {
      options.metrics?.authFailed(header ? 'malformed' : 'missing');
      const answer = refuse('a bearer access token is required');
      answer.headers.set('WWW-Authenticate', noTokenChallenge());
      await send(res, answer);
      return;
    }
    const source = req.socket.remoteAddress ?? 'unknown';
    const verdict = options.floodGuard?.admit(source, match[1]) ?? { admitted: true };
    if (!verdict.admitted) {
      options.metrics?.authFailed('flood');
      // Answered by the app's error handler from the error table (429, Retry-After).
      next(
        new BulkheadError('auth_flood', 'too many refused access tokens from this address; retry later', {
          retryAfterMs: verdict.retryAfterMs,
        }),
      );
      return;
    }
    try {
      const { principal, tenant } = await options.verify(match[1]);
      options.floodGuard?.verified(match[1], principal.expiresAt);
      // The raw token stays here: nothing downstream (and no container) ever receives it.
      withoutAuthorization(req);
      req.auth = {
        token: '',
        clientId: principal.agent,
        scopes: principal.scopes,
        expiresAt: principal.expiresAt,
        extra: { principal, tenant },
      };
      next();
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) {
        // Not verified either way (an issuer's keys or the registry out of reach): answered by the
        // app's error handler, from the error table when it is one of ours.
        options.logger.warn({ err: error }, 'access token not verified');
        next(error);
        return;
      }
      options.floodGuard?.refused(source);
      options.logger.info({ reason: error.message }, 'rejected access token');
      options.metrics?.authFailed(error.reason);
      await send(res, refuse(error.message));
    }
  };
}
