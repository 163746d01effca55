// Evidence for one tenant: the latest isolation report, control by control with the reason, and the
// audit trail with its chain check, filtered and exportable as JSON lines.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { Me } from './api.ts';
import { Actions } from './actions.ts';
import { Actor, Badge, Problem, repeated, Table, time, useResource, visible } from './format.ts';
import type { AuditEntry, AuditView, ChainCheck, IsolationReport } from './types.ts';

function Report({ report }: { report: IsolationReport | null }) {
  if (report === null) return html`<p>No verify report yet for this tenant.</p>`;
  const passed = report.checks.filter((c) => c.pass).length;
  return html`<p data-testid="report-summary">
      <${Badge} ok=${report.pass} yes="pass" no="FAIL" />
      ${` ${passed} of ${report.checks.length} checks pass; checked ${time(report.checkedAt)} on ${report.isolation} (${report.runtimeId?.slice(0, 12) ?? 'no runtime'}).`}
    </p>
    <${Table} caption="Controls" columns=${['Control', 'Seen from', 'Result', 'Why']}>
        ${report.checks.map(
          (c) =>
            html`<tr>
              <th scope="row">${c.control}</th>
              <td>${c.source}</td>
              <td><${Badge} ok=${c.pass} yes="pass" no="FAIL" /></td>
              <td>${visible(c.why)}</td>
            </tr>`,
        )}
      </${Table}>`;
}

/**
 * A call's result as the record states it (records of other kinds have none), and the rate-limit
 * refusals it counts besides its own (a `refusals` record counts only those).
 */
function outcome(e: AuditEntry): string {
  if (e.status === undefined) return repeated(e).trim();
  const latency = e.latency_ms === undefined ? '' : ` in ${Math.round(e.latency_ms)} ms`;
  return `${e.status === 'ok' ? 'ok' : (e.error_code ?? 'error')}${latency}${repeated(e)}`;
}

/** How much of a checked trail is sealed in signed segments, when the console reads them. */
function sealedPart(chain: ChainCheck): string {
  const sealed = chain.sealed;
  if (!sealed) return ' (those still in Redis)';
  const pruned = sealed.prunedThrough ? `; segments 1-${sealed.prunedThrough} pruned by retention` : '';
  const shipped = sealed.shippedThrough
    ? `; shipped to the SIEM through segment ${sealed.shippedThrough}`
    : '';
  return ` (${sealed.entries} sealed in ${sealed.segments} signed segments, the rest still in Redis${pruned}${shipped})`;
}

const FILTERS = ['decision', 'tool', 'who', 'text'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

function query(filters: Filters): string {
  const params = new URLSearchParams();
  for (const key of FILTERS) if (filters[key]) params.set(key, filters[key]);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Entries of the trail shown at most, the newest that match. */
const SHOWN = 200;

function caption(view: AuditView): string {
  const [first, last] = [view.entries[0], view.entries.at(-1)];
  const range = first && last ? ` (seq ${first.seq} to ${last.seq})` : '';
  const shown = view.matched > view.entries.length ? `, ${view.entries.length} shown${range}` : '';
  return `${view.matched} of ${view.total} entries${shown}`;
}

function AuditTrail({ id }: { id: string }) {
  const none: Filters = { decision: '', tool: '', who: '', text: '' };
  // What the fields show (every keystroke) and what the trail is filtered by (on change): a render
  // between the two, say when a response arrives, must not put back a field's older value.
  const [drafts, setDrafts] = useState<Filters>(none);
  const [filters, setFiltersOnly] = useState<Filters>(none);
  // The page shown: the newest SHOWN matches, or those older than a seq (the "Older" button).
  const [before, setBefore] = useState<number | undefined>(undefined);
  const setFilters = (change: (f: Filters) => Filters): void => {
    setBefore(undefined);
    setFiltersOnly(change);
  };
  const base = `/api/tenants/${encodeURIComponent(id)}`;
  // The server keeps no more than SHOWN entries of the trail, however long it is.
  const paging = `limit=${SHOWN}${before === undefined ? '' : `&before=${before}`}`;
  const shown = query(filters) ? `${query(filters)}&${paging}` : `?${paging}`;
  const { data, error, reload } = useResource<AuditView>(`${base}/audit${shown}`);
  const value = (e: Event): string => (e.target as HTMLInputElement).value;
  const field = (key: keyof Filters, label: string) =>
    html`<label
      >${label}
      <input
        name=${key}
        value=${drafts[key]}
        onInput=${(e: Event) => setDrafts((d) => ({ ...d, [key]: value(e) }))}
        onChange=${(e: Event) => setFilters((f) => ({ ...f, [key]: value(e) }))}
      />
    </label>`;
  return html`<${Problem} error=${error} />
    <p data-testid="chain-status">
      Chain:
      ${
        data === undefined
          ? 'checking…'
          : html`<${Badge} ok=${data.chain.ok} yes="intact" no="BROKEN" /> ${
                data.chain.ok
                  ? `${data.chain.entries} entries${sealedPart(data.chain)}, every hash and link checked; head ${data.chain.head.slice(0, 16)}…`
                  : visible(data.chain.problem ?? '')
              }`
      }
      <button type="button" onClick=${reload}>Verify the chain again</button>
    </p>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label
        >Decision
        <select
          name="decision"
          value=${filters.decision}
          onChange=${(e: Event) => setFilters((f) => ({ ...f, decision: value(e) }))}
        >
          <option value="">any</option>
          <option value="permit">permit</option>
          <option value="deny">deny</option>
        </select>
      </label>
      ${field('tool', 'Tool')} ${field('who', 'User or agent')} ${field('text', 'Reason contains')}
      <a class="button" href=${`${base}/audit.jsonl${query(filters)}`} download=${`${id}-audit.jsonl`}
        >Export JSON lines</a
      >
    </form>
    ${
      data === undefined
        ? null
        : html`<${Table} caption=${caption(data)} testid="audit-table" columns=${['#', 'When', 'User', 'Agent', 'Tool', 'Decision', 'Outcome', 'Reason', 'Kept in']}>
              ${data.entries
                .slice()
                .reverse()
                .map(
                  (e) =>
                    html`<tr>
                      <td>${e.seq}</td>
                      <td>${time(e.at)}</td>
                      <td><${Actor} entry=${e} name=${e.user ?? ''} /></td>
                      <td>${visible(e.agent ?? '')}</td>
                      <td>${visible(e.tool)}</td>
                      <td><${Badge} ok=${e.decision === 'permit'} yes="permit" no="deny" /></td>
                      <td>${outcome(e)}</td>
                      <td>${visible(e.reason)}</td>
                      <td>${e.segment === undefined ? 'Redis' : `segment ${e.segment}`}</td>
                    </tr>`,
                )}
            </${Table}>
            <p class="pages">
              ${
                data.older > 0
                  ? html`<button type="button" onClick=${() => setBefore(data.entries[0]?.seq)}>
                      Older entries (${data.older})
                    </button>`
                  : null
              }
              ${
                before === undefined
                  ? null
                  : html`<button type="button" onClick=${() => setBefore(undefined)}>Newest entries</button>`
              }
            </p>`
    }`;
}

export function EvidencePage({ me, id }: { me: Me; id: string }) {
  const { data, error, reload } = useResource<{ report: IsolationReport | null }>(
    `/api/tenants/${encodeURIComponent(id)}/evidence`,
  );
  return html`<main id="main">
    <h1 tabindex="-1">Evidence for ${visible(id)}</h1>
    <p><a href=${`#/tenants/${encodeURIComponent(id)}`}>Back to the tenant</a></p>
    <section aria-labelledby="verify">
      <h2 id="verify">Isolation report (verify)</h2>
      <${Problem} error=${error} />
      ${data === undefined ? html`<p>Loading…</p>` : html`<${Report} report=${data.report} />`}
      <${Actions}
        me=${me}
        tenant=${id}
        actions=${[{ name: 'verify', label: 'Run verify again' }]}
        onDone=${reload}
      />
    </section>
    <section aria-labelledby="audit">
      <h2 id="audit">Audit trail</h2>
      <${AuditTrail} id=${id} />
    </section>
  </main>`;
}
