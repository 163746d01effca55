// All tenants at a glance: plan, isolation tier, state, generation, tools and today's use.
import { html } from 'htm/preact';
import { Badge, Problem, Table, usageText, useResource } from './format.ts';
import type { TenantSummary } from './types.ts';

export function TenantsPage() {
  const { data, error } = useResource<TenantSummary[]>('/api/tenants');
  return html`<main id="main">
    <h1 tabindex="-1">Tenants</h1>
    <${Problem} error=${error} />
    ${
      data === undefined
        ? html`<p>Loading…</p>`
        : html`<${Table} caption=${`${data.length} tenants`} columns=${['Tenant', 'Plan', 'Isolation', 'Status', 'Runtime', 'Generation', 'Pinned tools', 'Minute quota in use', 'Day quota in use']}>
              ${data.map(
                (t) =>
                  html`<tr>
                    <th scope="row"><a href=${`#/tenants/${encodeURIComponent(t.id)}`}>${t.id}</a></th>
                    <td>${t.plan.name}</td>
                    <td>${t.isolation}</td>
                    <td><${Badge} ok=${t.status === 'active'} yes="active" no="suspended" /></td>
                    <td>${t.runtime ? t.runtime.state : 'none'}</td>
                    <td>${t.generation}</td>
                    <td>${t.tools.length}</td>
                    <td>${usageText(t.usage.find((u) => u.layer === 'tenant_minute'))}</td>
                    <td>${usageText(t.usage.find((u) => u.layer === 'tenant_day'))}</td>
                  </tr>`,
              )}
            </${Table}>`
    }
  </main>`;
}
