// The router's seal on a runtime's multi-round-trip `requestState` (2026-07-28). The state travels
// through the client and back: the client is not trusted with it, and neither is the runtime that
// minted it, so the router wraps it with who it was minted for (issuer, tenant, user, agent, the
// method and its name) and an HMAC, and on the retry hands the runtime its state back only for the
// same caller and the same request. Every router replica derives the same HMAC key from the
// installation's call-assertion key, so a retry may reach any of them.
import { createHmac, createPrivateKey, hkdfSync, timingSafeEqual } from 'node:crypto';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { Principal } from '../identity/principal.ts';

/** How long a sealed state may wait for the client's answers (a person may be filling in a form). */
export const REQUEST_STATE_TTL_MS = 10 * 60_000;

/** What a state is bound to: the caller, and the request it belongs to. */
export interface StateBinding {
  /**
   * The issuer too, as a session's binding has it (sessions.ts): a tenant may bind several, and one
   * issuer's `alice` through `app-1` is not another's.
   */
  principal: Pick<Principal, 'issuer' | 'tenant' | 'user' | 'agent'>;
  /** The method and its target (`tools/call:records_create`, `prompts/get:files_summary`). */
  request: string;
}

interface Sealed {
  s: string;
  i: string;
  t: string;
  u: string | null;
  a: string;
  r: string;
  exp: number;
}

export interface RequestStateSeal {
  seal(inner: string, binding: StateBinding): string;
  /** The runtime's own state, or a `request_state_invalid` error (forged, expired, another caller's). */
  open(sealed: string, binding: StateBinding): string;
}

/** The HMAC key every replica derives from the installation's call-assertion key (PKCS#8 PEM). */
export function requestStateKey(privateKeyPem: string): Buffer {
  const raw = createPrivateKey(privateKeyPem).export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(hkdfSync('sha256', raw, 'bulkhead', 'mcp request state v1', 32));
}

export function createRequestStateSeal(key: Buffer, now: () => number = Date.now): RequestStateSeal {
  const mac = (payload: string): Buffer => createHmac('sha256', key).update(payload).digest();
  const invalid = (why: string): BulkheadError =>
    new BulkheadError('request_state_invalid', `requestState refused: ${why}`);
  return {
    seal(inner, { principal, request }) {
      const body: Sealed = {
        s: inner,
        i: principal.issuer,
        t: principal.tenant,
        u: principal.user,
        a: principal.agent,
        r: request,
        exp: now() + REQUEST_STATE_TTL_MS,
      };
      const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
      return `${payload}.${mac(payload).toString('base64url')}`;
    },
    open(sealed, { principal, request }) {
      const [payload, tag, extra] = sealed.split('.');
      if (!payload || !tag || extra !== undefined) throw invalid('not a state this router issued');
      const given = Buffer.from(tag, 'base64url');
      const expected = mac(payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        throw invalid('not a state this router issued');
      const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Sealed;
      if (body.exp < now()) throw invalid('expired');
      const { issuer, tenant, user, agent } = principal;
      if (body.i !== issuer || body.t !== tenant || body.u !== user || body.a !== agent)
        throw invalid('issued to another caller');
      if (body.r !== request) throw invalid('issued for another request');
      return body.s;
    },
  };
}
