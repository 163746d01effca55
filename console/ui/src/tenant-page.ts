// One tenant: its plan and tier, runtime, pinned tools, quotas and live use, recent refusals, and
// (for operators) suspend, resume and recycle.
import { html } from 'htm/preact';
import type { Me } from './api.ts';
import { Actions } from './actions.ts';
import {
  Actor,
  Badge,
  layerText,
  Problem,
  repeated,
  Table,
  time,
  usageText,
  useResource,
  visible,
} from './format.ts';
import type { TenantDetail, Usage } from './types.ts';

const BUDGET_COLUMNS = ['Budget', 'In use / limit', 'Resets in'];

/** One rate-limit layer in use: whose budget, how much of it, and when it is full again. */
function budgetRow(u: Usage) {
  return html`<tr>
    <th scope="row">${layerText(u)}</th>
    <td>${usageText(u)}</td>
    <td>${Math.ceil(u.reset_ms / 1000)} s</td>
  </tr>`;
}

export function TenantPage({ me, id }: { me: Me; id: string }) {
  const { data: t, error, reload } = useResource<TenantDetail>(`/api/tenants/${encodeURIComponent(id)}`);
  return html`<main id="main">
    <h1 tabindex="-1">Tenant ${visible(id)}</h1>
    <${Problem} error=${error} />
    ${
      t === undefined
        ? html`<p>Loading…</p>`
        : html`<p>
              <a href=${`#/tenants/${encodeURIComponent(id)}/evidence`}
                >Evidence: verify report and audit trail</a
              >
            </p>
            <section aria-labelledby="overview">
              <h2 id="overview">Overview</h2>
              <dl class="facts">
                <dt>Status</dt>
                <dd data-testid="status">
                  <${Badge} ok=${t.status === 'active'} yes="active" no="suspended" />
                </dd>
                <dt>Plan</dt>
                <dd>${t.plan.name} (${t.plan.memoryMb} MiB, ${t.plan.cpus} CPU, ${t.plan.pids} PIDs)</dd>
                <dt>Isolation tier</dt>
                <dd>${t.isolation}</dd>
                <dt>Generation</dt>
                <dd>${t.generation}</dd>
                <dt>Runtime</dt>
                <dd>
                  ${t.runtime ? `${t.runtime.state} (generation ${t.runtime.generation}, ${t.runtime.image})` : 'none running'}
                </dd>
                <dt>Audit chain</dt>
                <dd>
                  <${Badge}
                    ok=${t.chain.ok}
                    yes=${`intact (${t.chain.entries} entries)`}
                    no=${`broken: ${visible(t.chain.problem ?? '')}`}
                  />
                </dd>
              </dl>
            </section>
            <section aria-labelledby="quotas">
              <h2 id="quotas">Quotas and live use</h2>
              <${Table} caption="Call budgets" testid="call-budgets" columns=${BUDGET_COLUMNS}>
                  ${t.quotaLayers.map(budgetRow)}
                </${Table}>
              <p>
                Per agent: ${t.quotas.agentCallsPerMinute ?? Math.ceil(t.quotas.callsPerMinute / 2)} calls per
                minute; per user: ${t.quotas.userCallsPerMinute ?? Math.ceil(t.quotas.callsPerMinute / 2)}.
              </p>
              <${Table}
                caption="Listing budgets (tools/list only, apart from the calls')"
                testid="listing-budgets"
                columns=${BUDGET_COLUMNS}
              >
                  ${t.listingLayers.map(budgetRow)}
                </${Table}>
            </section>
            <section aria-labelledby="tools">
              <h2 id="tools">Pinned tools</h2>
              <${Table} columns=${['Tool', 'Version', 'Agents acting alone']}>
                  ${t.tools.map(
                    (pin) =>
                      html`<tr>
                        <th scope="row">${pin.name}</th>
                        <td>${pin.version}</td>
                        <td>${pin.agentsAlone ? 'yes' : 'no'}</td>
                      </tr>`,
                  )}
                </${Table}>
            </section>
            <section aria-labelledby="withheld">
              <h2 id="withheld">Withheld for drift</h2>
              ${
                t.withheld.length === 0
                  ? html`<p>None: no router's check withholds a tool of this tenant.</p>`
                  : html`<${Table} columns=${['Tool', 'Why', 'Routers', 'Last found']}>
                        ${t.withheld.map(
                          (w) =>
                            html`<tr>
                              <th scope="row">${visible(w.tool)}</th>
                              <td>
                                ${w.reason === 'missing' ? 'missing from the runtime' : 'definition changed'}
                              </td>
                              <td>${w.routers}</td>
                              <td>${time(w.lastFound)}</td>
                            </tr>`,
                        )}
                      </${Table}>`
              }
            </section>
            <section aria-labelledby="errors">
              <h2 id="errors">Recent errors and refusals</h2>
              ${
                t.recentErrors.length === 0
                  ? html`<p>None in the audit trail.</p>`
                  : html`<${Table} columns=${['When', 'Who', 'Tool', 'Why']}>
                        ${t.recentErrors.map(
                          (e) =>
                            html`<tr>
                              <td>${time(e.at)}</td>
                              <td><${Actor} entry=${e} name=${e.user ?? e.agent ?? ''} /></td>
                              <td>${visible(e.tool)}</td>
                              <td>
                                ${e.error_code ? `${e.error_code}: ` : ''}${visible(e.reason)}${repeated(e)}
                              </td>
                            </tr>`,
                        )}
                      </${Table}>`
              }
            </section>
            <section aria-labelledby="operations">
              <h2 id="operations">Operations</h2>
              <${Actions}
                me=${me}
                tenant=${id}
                actions=${[
                  { name: 'suspend', label: 'Suspend' },
                  { name: 'resume', label: 'Resume' },
                  { name: 'recycle', label: 'Recycle runtime' },
                ]}
                onDone=${reload}
              />
            </section>`
    }
  </main>`;
}
