// Verifies the router's call assertion: signature by the router's Ed25519 key only, issuer, this
// tenant as audience, a short lifetime, and the digest of the exact body that came with it.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { importJWK, importSPKI, jwtVerify, type JWK } from 'jose';
import {
  CALL_ASSERTION_ALG,
  CALL_ASSERTION_ISSUER,
  CALL_ASSERTION_TTL_SECONDS,
  CallAssertionClaimsSchema,
  bodyDigest,
  callAssertionAudience,
  type CallContext,
} from '../../kernel/wire/call-assertion.ts';

/** The call carries no valid router assertion: answered with the table's HTTP status (401). */
export class AssertionRejected extends BulkheadError<'assertion_rejected'> {
  constructor(message: string) {
    super('assertion_rejected', message);
  }
}

export type RouterKey = Awaited<ReturnType<typeof importSPKI>>;

export type AssertionVerifier = (assertion: string | undefined, body: Uint8Array) => Promise<CallContext>;

export async function loadRouterKey(publicKey: string): Promise<RouterKey> {
  const trimmed = publicKey.trim();
  const key = trimmed.startsWith('{')
    ? await importJWK(JSON.parse(trimmed) as JWK, CALL_ASSERTION_ALG)
    : await importSPKI(trimmed, CALL_ASSERTION_ALG);
  if (key instanceof Uint8Array) throw new Error('router public key must be an asymmetric key');
  return key;
}

export function createAssertionVerifier(options: {
  tenantId: string;
  routerKey: RouterKey;
}): AssertionVerifier {
  const audience = callAssertionAudience(options.tenantId);
  return async (assertion, body) => {
    if (!assertion) throw new AssertionRejected('missing call assertion');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(assertion, options.routerKey, {
        algorithms: [CALL_ASSERTION_ALG],
        issuer: CALL_ASSERTION_ISSUER,
        audience,
        maxTokenAge: `${CALL_ASSERTION_TTL_SECONDS}s`,
        clockTolerance: 5,
      }));
    } catch (error) {
      throw new AssertionRejected(`invalid call assertion: ${(error as Error).message}`);
    }
    const claims = CallAssertionClaimsSchema.safeParse(payload);
    if (!claims.success) throw new AssertionRejected('call assertion has malformed claims');
    if (claims.data.tenant !== options.tenantId)
      throw new AssertionRejected('call assertion names another tenant');
    if (claims.data.bh !== bodyDigest(body))
      throw new AssertionRejected('call assertion does not match the body');
    const { tenant, user, agent, scopes, packs, trace } = claims.data;
    return {
      tenant,
      user,
      agent,
      scopes,
      // The packs whose resources and prompts this caller may reach (packs/pack-reach.ts).
      ...(packs === undefined ? {} : { packs }),
      ...(trace === undefined ? {} : { trace }),
    };
  };
}
