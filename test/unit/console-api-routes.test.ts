// The console's API paths as a signed-in browser may send them, malformed: refused as the request
// they are (invalid_input, HTTP 400), not answered as the console's own failure (HTTP 500, logged).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ApiRoutes, type ApiOptions } from '../../console/api-routes.ts';
import type { AuthRoutes } from '../../console/auth/auth-routes.ts';
import type { Session } from '../../console/auth/sessions.ts';

const session: Session = { sub: 'aldo', role: 'auditor', csrf: 'c', expiresAtMs: Date.now() + 60_000 };

/** Nothing behind the routes: a path refused before any read reaches none of it. */
const api = new ApiRoutes({
  auth: { session: () => session } as unknown as AuthRoutes,
} as unknown as ApiOptions);

const get = (path: string): Promise<void> =>
  api.handle(
    { method: 'GET', headers: {} } as IncomingMessage,
    {} as ServerResponse,
    new URL(path, 'http://console'),
  );

describe("the console API's tenant paths", () => {
  it('refuses a tenant id that is not one, percent-encoded or malformed, as invalid input', async () => {
    for (const path of ['/api/tenants/%E0%A4%A', '/api/tenants/%/audit', '/api/tenants/ACME/evidence'])
      await expect(get(path)).rejects.toMatchObject({ code: 'invalid_input' });
  });
});
