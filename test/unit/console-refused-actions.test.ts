// The `deny` entries an auditor's refused actions append to a tenant's audit trail
// (console/refused-actions.ts, console/api-routes.ts): every refusal is answered role_required, but
// only the first of each auditor, tenant and action a minute is on record, so an auditor looping on
// POSTs cannot grow a tenant's trail without bound.
import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ApiRoutes, type ApiOptions } from '../../console/api-routes.ts';
import type { AuthRoutes } from '../../console/auth/auth-routes.ts';
import type { Session } from '../../console/auth/sessions.ts';
import { REFUSED_ACTION_INTERVAL_MS, RefusedActionBound } from '../../console/refused-actions.ts';
import type { AuditEvent } from '../../kernel/audit/audit-trail.ts';

const auditor = (sub: string): Session => ({ sub, role: 'auditor', csrf: 'c', expiresAtMs: Infinity });

function consoleAs(now: () => number) {
  const appended: AuditEvent[] = [];
  let signedIn = auditor('aldo');
  const api = new ApiRoutes({
    auth: { session: () => signedIn, checkAction: () => undefined } as unknown as AuthRoutes,
    cp: {
      registry: { require: (id: string) => Promise.resolve({ id }) },
      audit: { append: (event: AuditEvent) => void appended.push(event) },
    },
    refusals: new RefusedActionBound({ now }),
  } as unknown as ApiOptions);
  const post = (tenant: string, action: string): Promise<unknown> => {
    const req = Object.assign(Readable.from([Buffer.from('{"reason":"looping"}')]), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    }) as unknown as IncomingMessage;
    return api
      .handle(req, {} as ServerResponse, new URL(`/api/tenants/${tenant}/actions/${action}`, 'http://c'))
      .catch((error: unknown) => (error as { code: string }).code);
  };
  return { appended, post, as: (sub: string) => void (signedIn = auditor(sub)) };
}

describe("an auditor's refused actions", () => {
  it('are each refused, and on record once per auditor, tenant and action a minute', async () => {
    let time = 1_000_000;
    const c = consoleAs(() => time);
    for (let i = 0; i < 200; i++) expect(await c.post('acme', 'suspend')).toBe('role_required');
    expect(c.appended).toHaveLength(1);
    expect(c.appended[0]).toMatchObject({ tenant: 'acme', user: 'console:aldo', tool: 'operator/suspend' });
    expect(c.appended[0]).toMatchObject({ decision: 'deny' });
    // Another action, another tenant, another auditor: each its own first refusal.
    expect(await c.post('acme', 'recycle')).toBe('role_required');
    expect(await c.post('globex', 'suspend')).toBe('role_required');
    c.as('alice');
    expect(await c.post('acme', 'suspend')).toBe('role_required');
    expect(c.appended.map((e) => [e.user, e.tenant, e.tool])).toEqual([
      ['console:aldo', 'acme', 'operator/suspend'],
      ['console:aldo', 'acme', 'operator/recycle'],
      ['console:aldo', 'globex', 'operator/suspend'],
      ['console:alice', 'acme', 'operator/suspend'],
    ]);
    c.as('aldo');
    time += REFUSED_ACTION_INTERVAL_MS - 1;
    expect(await c.post('acme', 'suspend')).toBe('role_required');
    expect(c.appended).toHaveLength(4);
    time += 1;
    expect(await c.post('acme', 'suspend')).toBe('role_required');
    expect(c.appended).toHaveLength(5);
  });
});
