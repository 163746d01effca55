// Shared read-only tools: served in-process, tenant-agnostic, never touching tenant data.
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.ts';

export type SharedToolHandler = (
  principal: Principal,
  args: Record<string, unknown>,
) => Promise<CallToolResult>;

export const SHARED_TOOL_HANDLERS: Record<string, SharedToolHandler> = {
  whoami: (principal) => {
    const identity = {
      tenant: principal.tenant,
      user: principal.user,
      agent: principal.agent,
      actors: principal.actors,
      scopes: principal.scopes,
      roles: principal.roles,
      issuer: principal.issuer,
      acting_alone: principal.user === null,
    };
    return Promise.resolve({
      content: [{ type: 'text', text: JSON.stringify(identity) }],
      structuredContent: identity,
    });
  },
};
