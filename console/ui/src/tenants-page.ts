// The tenants at a glance, a page at a time: plan, isolation tier, state, generation, tools and
// today's use. The server bounds a page (each tenant on it costs an inspection of its runtime) and
// hands out the cursors of the pages beside it.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { Badge, Problem, Table, usageText, useResource } from './format.ts';
import type { TenantPage } from './types.ts';

function caption(page: TenantPage): string {
  if (page.tenants.length === 0) return `${page.total} tenants`;
  return `Tenants ${page.from} to ${page.from + page.tenants.length - 1} of ${page.total}`;
}

export function TenantsPage() {
  const [cursor, setCursor] = useState<string | null>(null);
  const { data, error } = useResource<TenantPage>(
    cursor === null ? '/api/tenants' : `/api/tenants?cursor=${encodeURIComponent(cursor)}`,
  );
  return html`<main id="main">
    <h1 tabindex="-1">Tenants</h1>
    <${Problem} error=${error} />
    ${
      data === undefined
        ? html`<p>Loading…</p>`
        : html`<${Table} caption=${caption(data)} columns=${['Tenant', 'Plan', 'Isolation', 'Status', 'Runtime', 'Generation', 'Pinned tools', 'Minute quota in use', 'Day quota in use']}>
              ${data.tenants.map(
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
            </${Table}>
            <p class="pages">
              ${
                data.previous === null
                  ? null
                  : html`<button type="button" onClick=${() => setCursor(data.previous)}>
                      Previous tenants
                    </button>`
              }
              ${
                data.next === null
                  ? null
                  : html`<button type="button" onClick=${() => setCursor(data.next)}>Next tenants</button>`
              }
            </p>`
    }
  </main>`;
}
