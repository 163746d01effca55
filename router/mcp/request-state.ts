// The router's seal on a runtime's multi-round-trip `requestState` (2026-07-28). The state travels
// through the client and back: the client is not trusted with it, and neither is the runtime that
// minted it, so the router wraps it with who it was minted for (issuer, tenant, user, agent, the
// tenant's creation time, the method and its name) and an HMAC, and on the retry hands the runtime its state back only for the
// same caller and the same request. Every router replica derives the same HMAC key from the
// installation's call-assertion key, so a retry may reach any of them.
import { createHmac, createPrivateKey, hkdfSync, timingSafeEqual } from 'node:crypto';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
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
  /**
   * The tenant's record as the request read it: its `createdAt` tells a tenant onboarded again
   * under the same id from the earlier one, whose caller's state it must not open.
   */
  tenant: Pick<TenantRecord, 'createdAt'> | undefined;
  /** The method and its target (`tools/call:records_create`, `prompts/get:files_summary`). */
  request: string;
}

interface Sealed {
  s: string;
  i: string;
  t: string;
  u: string | null;
  a: string;
  /** The tenant's `createdAt` (null: no tenant record). */
  c: string | null;
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
    seal(inner, { principal, tenant, request }) {
      const body: Sealed = {
        s: inner,
        i: principal.issuer,
        t: principal.tenant,
        u: principal.user,
        a: principal.agent,
        c: tenant?.createdAt ?? null,
        r: request,
        exp: now() + REQUEST_STATE_TTL_MS,
      };
      const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
      return `${payload}.${mac(payload).toString('base64url')}`;
    },
    open(sealed, { principal, tenant, request }) {
      const [payload, tag, extra] = sealed.split('.');
      if (!payload || !tag || extra !== undefined) throw invalid('not a state this router issued');
      const given = Buffer.from(tag, 'base64url');
      const expected = mac(payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        throw invalid('not a state this router issued');
      const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Sealed;
      if (body.exp < now()) throw invalid('expired');
      const { issuer, user, agent } = principal;
      if (body.i !== issuer || body.t !== principal.tenant || body.u !== user || body.a !== agent)
        throw invalid('issued to another caller');
      if (body.c !== (tenant?.createdAt ?? null)) throw invalid('issued to an earlier tenant of this id');
      if (body.r !== request) throw invalid('issued for another request');
      return body.s;
    },
  };
}
