// The pure authorization decision: every combination of tenant policy, user roles and agent
// scopes that the router relies on, and what each denial is allowed to reveal.
import { describe, expect, it } from 'vitest';
import { decideTool, toolsOfRoles, type ToolCaller } from '../../router/authz/tool-policy.ts';
import { RECORDS_TOOLS, SHARED_TOOLS, type ToolDefinition } from '../../kernel/packs/manifest.ts';
import { defaultRoles, defaultTools, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { tenantRecord } from '../support/tenant.ts';

const tool = (name: string): ToolDefinition =>
  [...SHARED_TOOLS, ...RECORDS_TOOLS].find((t) => t.name === name)!;
const ALL = 'records:read records:write'.split(' ');
const user = (roles: string[], scopes = ALL): ToolCaller => ({ user: 'alice', roles, scopes });
const agentAlone = (scopes = ALL): ToolCaller => ({ user: null, roles: [], scopes });
const tenant = tenantRecord('acme', { tools: defaultTools(), roles: defaultRoles() });

describe('tool policy', () => {
  it('permits a user whose role grants the tool and whose agent holds its scope', () => {
    expect(decideTool({ caller: user(['editor']), tenant, tool: tool('records_create') })).toEqual({
      permit: true,
      reason: 'user_role_and_scope_allow',
    });
  });

  it("denies a user whose role does not grant the tool, whatever the agent's scopes (hidden)", () => {
    expect(decideTool({ caller: user(['viewer']), tenant, tool: tool('records_create') })).toEqual({
      permit: false,
      reason: 'user_role_denies',
      answer: 'hidden',
    });
    expect(decideTool({ caller: user(['editor']), tenant, tool: tool('records_delete') }).permit).toBe(false);
    expect(decideTool({ caller: user([]), tenant, tool: tool('whoami') }).permit).toBe(false);
  });

  it("asks for a step-up when the user may use the tool but the agent's token lacks its scope", () => {
    expect(
      decideTool({ caller: user(['admin'], ['records:read']), tenant, tool: tool('records_delete') }),
    ).toEqual({ permit: false, reason: 'insufficient_scope', answer: 'step_up', scope: 'records:write' });
  });

  it('never reveals a missing scope to a principal the role already denies', () => {
    const decision = decideTool({ caller: user(['viewer'], []), tenant, tool: tool('records_create') });
    expect(decision).toMatchObject({ permit: false, answer: 'hidden', reason: 'user_role_denies' });
  });

  it('gives agents acting alone only what the tenant opened to them (default: whoami)', () => {
    expect(decideTool({ caller: agentAlone(), tenant, tool: tool('whoami') })).toEqual({
      permit: true,
      reason: 'open_to_agents_alone_and_scope_allows',
    });
    for (const name of RECORDS_TOOLS.map((t) => t.name)) {
      expect(decideTool({ caller: agentAlone(), tenant, tool: tool(name) })).toMatchObject({
        permit: false,
        reason: 'not_open_to_agents_alone',
        answer: 'hidden',
      });
    }
    const opened = tenantRecord('acme', { tools: openToAgentsAlone(['records_list']) });
    expect(decideTool({ caller: agentAlone(), tenant: opened, tool: tool('records_list') }).permit).toBe(
      true,
    );
    expect(decideTool({ caller: agentAlone(), tenant: opened, tool: tool('records_get') }).permit).toBe(
      false,
    );
    expect(
      decideTool({ caller: agentAlone(['records:write']), tenant: opened, tool: tool('records_list') }),
    ).toMatchObject({ reason: 'insufficient_scope', scope: 'records:read' });
  });

  it('ignores roles on a token without a user', () => {
    const caller: ToolCaller = { user: null, roles: ['admin'], scopes: ALL };
    expect(decideTool({ caller, tenant, tool: tool('records_create') }).permit).toBe(false);
  });

  it('denies tools the tenant did not enable, pinned at another version, or unknown (hidden)', () => {
    const narrow = tenantRecord('acme', {
      tools: [{ name: 'records_get', version: '0.9.0', agentsAlone: true }],
      roles: defaultRoles(),
    });
    expect(decideTool({ caller: user(['admin']), tenant: narrow, tool: tool('records_list') })).toMatchObject(
      {
        reason: 'tool_not_enabled',
        answer: 'hidden',
      },
    );
    expect(decideTool({ caller: user(['admin']), tenant: narrow, tool: tool('records_get') })).toMatchObject({
      reason: 'tool_version_not_pinned',
      answer: 'hidden',
    });
    expect(decideTool({ caller: user(['admin']), tenant, tool: undefined })).toMatchObject({
      reason: 'unknown_tool',
      answer: 'hidden',
    });
    expect(decideTool({ caller: user(['admin']), tenant: undefined, tool: tool('whoami') })).toMatchObject({
      reason: 'unknown_tenant',
    });
  });

  it("hides a suspended tenant's own tools", () => {
    const suspended = tenantRecord('acme', {
      status: 'suspended',
      tools: defaultTools(),
      roles: defaultRoles(),
    });
    expect(
      decideTool({ caller: user(['admin']), tenant: suspended, tool: tool('records_get') }),
    ).toMatchObject({ reason: 'tenant_inactive', answer: 'hidden' });
  });

  it('grants the union of roles, and nothing for roles the tenant does not define', () => {
    const granted = toolsOfRoles(tenant, ['viewer', 'editor', '__proto__', 'constructor', 'ghost']);
    expect([...granted].sort()).toEqual(defaultRoles()['editor']!.slice().sort());
  });
});
