// All tenants at a glance: plan, isolation tier, state, generation, tools and today's use.
import { html } from 'htm/preact';
import { Badge, Problem, useResource, usageText } from './format.ts';
import type { TenantSummary } from './types.ts';

export function TenantsPage() {
  const { data, error } = useResource<TenantSummary[]>('/api/tenants');
  return html`<main id="main">
    <h1 tabindex="-1">Tenants</h1>
    <${Problem} error=${error} />
    ${
      data === undefined
        ? html`<p>Loading…</p>`
        : html`<table>
            <caption>
              ${data.length} tenants
            </caption>
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Plan</th>
                <th scope="col">Isolation</th>
                <th scope="col">Status</th>
                <th scope="col">Runtime</th>
                <th scope="col">Generation</th>
                <th scope="col">Pinned tools</th>
                <th scope="col">Minute quota in use</th>
                <th scope="col">Day quota in use</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>`
    }
  </main>`;
}
