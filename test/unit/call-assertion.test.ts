// The router's call assertion as signed (router/dispatch/call-signer.ts, node:crypto) and as every
// tenant runtime checks it (runtime-image/src/assertion-verifier.ts, jose): what one signs the other
// accepts, with the claims the verifier reads; anything else of it is refused.
import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import {
  AssertionRejected,
  createAssertionVerifier,
  loadRouterKey,
} from '../../runtime-image/src/assertion-verifier.ts';
import { CALL_ASSERTION_TTL_SECONDS, type CallContext } from '../../kernel/wire/call-assertion.ts';

const pem = (
  key: { export(options: { type: 'pkcs8' | 'spki'; format: 'pem' }): string | Buffer },
  type: 'pkcs8' | 'spki',
) => key.export({ type, format: 'pem' }).toString();
const router = generateKeyPairSync('ed25519');
const context: CallContext = {
  tenant: 'acme',
  user: 'u-1',
  agent: 'agent-1',
  scopes: ['records:read'],
  trace: '00-'.padEnd(55, 'a'),
};
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

async function verifierFor(tenantId: string, publicKey = pem(router.publicKey, 'spki')) {
  return createAssertionVerifier({ tenantId, routerKey: await loadRouterKey(publicKey) });
}

describe('the call assertion', () => {
  it('is accepted by the runtime with the context it carries', async () => {
    const sign = await createCallSigner(pem(router.privateKey, 'pkcs8'));
    const assertion = await sign(context, body);
    expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'EdDSA', typ: 'bulkhead-call+jwt' });
    const claims = decodeJwt(assertion);
    expect(claims).toMatchObject({ iss: 'bulkhead-router', aud: 'bulkhead-tenant:acme' });
    expect(claims.exp! - claims.iat!).toBe(CALL_ASSERTION_TTL_SECONDS);
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(5);
    expect(typeof claims.jti).toBe('string');
    expect(await (await verifierFor('acme'))(assertion, Buffer.from(body))).toEqual(context);
  });

  it('is new for every call (its own jti) and bound to its body and tenant', async () => {
    const sign = await createCallSigner(pem(router.privateKey, 'pkcs8'));
    const [one, two] = [await sign(context, body), await sign(context, body)];
    expect(decodeJwt(one).jti).not.toBe(decodeJwt(two).jti);
    const verify = await verifierFor('acme');
    await expect(verify(one, Buffer.from(`${body} `))).rejects.toBeInstanceOf(AssertionRejected);
    await expect((await verifierFor('other'))(one, Buffer.from(body))).rejects.toBeInstanceOf(
      AssertionRejected,
    );
    const tampered = one.replace(
      /\.[^.]+\./,
      `.${Buffer.from(JSON.stringify({ ...decodeJwt(one), scopes: ['records:write'] })).toString('base64url')}.`,
    );
    await expect(verify(tampered, Buffer.from(body))).rejects.toBeInstanceOf(AssertionRejected);
  });

  it('is refused when signed by another key, and is signed only with an Ed25519 key', async () => {
    const other = generateKeyPairSync('ed25519');
    const forged = await (await createCallSigner(pem(other.privateKey, 'pkcs8')))(context, body);
    await expect((await verifierFor('acme'))(forged, Buffer.from(body))).rejects.toBeInstanceOf(
      AssertionRejected,
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(createCallSigner(pem(ec.privateKey, 'pkcs8'))).rejects.toThrow(/must be Ed25519/);
  });
});
