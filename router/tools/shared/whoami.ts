// whoami: the verified identity of this call, from the token only.
import type { SharedToolHandler } from './shared-tool.ts';
import { structured } from './structured.ts';

export const whoami: SharedToolHandler = (principal) =>
  Promise.resolve(
    structured({
      tenant: principal.tenant,
      user: principal.user,
      agent: principal.agent,
      actors: principal.actors,
      scopes: principal.scopes,
      roles: principal.roles,
      issuer: principal.issuer,
      acting_alone: principal.user === null,
    }),
  );
