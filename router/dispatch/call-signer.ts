// Signs the router's proof of origin for one request into a tenant container.
import { randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import {
  CALL_ASSERTION_ALG,
  CALL_ASSERTION_ISSUER,
  CALL_ASSERTION_TTL_SECONDS,
  bodyDigest,
  callAssertionAudience,
  type CallContext,
} from '../../kernel/wire/call-assertion.ts';

export type CallSigner = (context: CallContext, body: string | Uint8Array) => Promise<string>;

export async function createCallSigner(privateKeyPem: string): Promise<CallSigner> {
  const key = await importPKCS8(privateKeyPem, CALL_ASSERTION_ALG);
  return (context, body) =>
    new SignJWT({ ...context, bh: bodyDigest(body) })
      .setProtectedHeader({ alg: CALL_ASSERTION_ALG, typ: 'bulkhead-call+jwt' })
      .setIssuer(CALL_ASSERTION_ISSUER)
      .setAudience(callAssertionAudience(context.tenant))
      .setIssuedAt()
      .setExpirationTime(`${CALL_ASSERTION_TTL_SECONDS}s`)
      .setJti(randomUUID())
      .sign(key);
}
