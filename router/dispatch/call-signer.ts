// Signs the router's proof of origin for one request into a tenant container: a compact JWS (EdDSA,
// Ed25519) of the call context, the body's digest and the registered claims, which the container
// checks with jose (runtime-image/src/assertion-verifier.ts). Signed with node:crypto's one-shot
// `sign`, not jose's `SignJWT`: jose signs through WebCrypto, an asynchronous job on libuv's thread
// pool, about 115 µs of CPU an assertion in a loop here against 35 µs, on every call to a tenant. The
// framing it replaces is three base64url parts; the verifier stays jose's, so an assertion this
// module got wrong is refused by every runtime (test/unit/call-assertion.test.ts).
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import {
  CALL_ASSERTION_ALG,
  CALL_ASSERTION_ISSUER,
  CALL_ASSERTION_TTL_SECONDS,
  bodyDigest,
  callAssertionAudience,
  type CallContext,
} from '../../kernel/wire/call-assertion.ts';

export type CallSigner = (context: CallContext, body: string | Uint8Array) => Promise<string>;

const HEADER = Buffer.from(JSON.stringify({ alg: CALL_ASSERTION_ALG, typ: 'bulkhead-call+jwt' })).toString(
  'base64url',
);

function ed25519Key(privateKeyPem: string): KeyObject {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`the call-assertion key must be Ed25519, not ${String(key.asymmetricKeyType)}`);
  return key;
}

/** One assertion: the claims, then the signature over the header and claims as base64url. */
function assertionFor(key: KeyObject, context: CallContext, body: string | Uint8Array): string {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    ...context,
    bh: bodyDigest(body),
    iss: CALL_ASSERTION_ISSUER,
    aud: callAssertionAudience(context.tenant),
    iat,
    exp: iat + CALL_ASSERTION_TTL_SECONDS,
    jti: randomUUID(),
  };
  const signed = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signed}.${sign(null, Buffer.from(signed), key).toString('base64url')}`;
}

/** Rejects a key that is not Ed25519; each assertion is signed at once, a failure as a rejection. */
export function createCallSigner(privateKeyPem: string): Promise<CallSigner> {
  return new Promise((resolve) => {
    const key = ed25519Key(privateKeyPem);
    resolve((context, body) => new Promise((signed) => signed(assertionFor(key, context, body))));
  });
}
