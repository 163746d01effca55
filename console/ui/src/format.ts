// Small shared pieces of the pages: loading a resource, and how states and times read.
import { html } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { get } from './api.ts';
import type { AuditEntry, Usage } from './types.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/**
 * GETs `path`; a newer path (or reload) wins over an answer still on its way for an older one. An
 * answer is shown only for the path it was read for: the pages stay mounted when the hash names
 * another tenant, and the previous tenant's answer used to stay on screen under the new one's name
 * until the new one came, and for good when it failed.
 */
export function useResource<T>(path: string): Loaded<T> {
  const [answer, setAnswer] = useState<{ path: string; data?: T; error?: string }>();
  const latest = useRef(0);
  const load = useCallback(() => {
    const request = ++latest.current;
    get<T>(path).then(
      (value) => {
        if (request === latest.current) setAnswer({ path, data: value });
      },
      (e: unknown) => {
        // A reload of the same path that fails keeps what was read for it, beside the refusal.
        if (request === latest.current)
          setAnswer((was) => ({ ...(was?.path === path ? was : { path }), error: (e as Error).message }));
      },
    );
  }, [path]);
  useEffect(load, [load]);
  const shown = answer?.path === path ? answer : undefined;
  return { data: shown?.data, error: shown?.error, reload: load };
}

export function Problem({ error }: { error: string | undefined }) {
  return error ? html`<p role="alert" class="problem">${error}</p>` : null;
}

export function Badge({ ok, yes, no }: { ok: boolean; yes: string; no: string }) {
  return html`<span class=${ok ? 'badge ok' : 'badge bad'}>${ok ? yes : no}</span>`;
}

/**
 * Characters that act without being seen: controls, bidi overrides and isolates, zero-width and other
 * format characters, line and paragraph separators, private-use, unassigned and lone surrogate code
 * points, and the rest Unicode says to render as nothing (a Hangul filler, a variation selector). A
 * name a tenant chose (a tool its agent called, a user or agent its own IdP signed, a file its code
 * left where verify looks) could otherwise turn its text round (U+202E shows `\u202Eeteled_sdrocer`
 * as "records_delete") or hide a difference.
 */
const UNSEEN = /[\p{C}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/** `text` with each unseen character named where it stands, as `[U+202E]`; markup stays text (Preact). */
export function visible(text: string): string {
  return text.replace(UNSEEN, (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

/**
 * Who an audit row names, and a mark on the rows the console itself wrote (an operator's action,
 * done or refused: `kind` operator). The name alone proves nothing: a tenant's IdP may sign a user
 * `console:<sub>` and its agent ask for `operator/suspend`, and the router records that call as it
 * came; only the control plane writes the kind, which the chain's hash covers.
 */
export function Actor({ entry, name }: { entry: AuditEntry; name: string }) {
  return entry.kind === 'operator'
    ? html`<span class="badge console">console action</span> ${visible(name)}`
    : visible(name);
}

/**
 * The rate-limit refusals a record counts besides its own (`repeats`): those the caller asked again
 * within the wait it was given, not recorded one by one (router/mcp/repeated-refusals.ts).
 */
export function repeated(entry: AuditEntry): string {
  const count = entry.repeats?.count;
  return count ? ` (+${count} asked again within the wait)` : '';
}

export function time(iso: string): string {
  return new Date(iso)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function usageText(usage: Usage | undefined): string {
  return usage ? `${usage.used} / ${usage.limit}` : 'none';
}

/** A layer's name as people read it: whose budget, of what (calls or tools/list's listings), over which period. */
export function layerText(u: Usage): string {
  const per = u.period_ms >= 86_400_000 ? 'per day' : 'per minute';
  const who = u.subject ?? u.tool ?? u.upstream;
  const listing = u.layer.endsWith('_list');
  const kind = u.layer.startsWith('tenant_')
    ? 'tenant'
    : listing
      ? u.layer.slice(0, -'_list'.length)
      : u.layer;
  return `${kind}${who ? ` ${visible(who)}` : ''}, ${listing ? 'listings' : 'calls'} ${per}`;
}

/** A data table: its caption (if any), a header row naming the columns, and the rows given. */
export function Table(props: {
  caption?: string;
  testid?: string;
  columns: readonly string[];
  children?: unknown;
}) {
  return html`<table data-testid=${props.testid}>
    ${
      props.caption === undefined
        ? null
        : html`<caption>
            ${props.caption}
          </caption>`
    }
    <thead>
      <tr>
        ${props.columns.map((column) => html`<th scope="col">${column}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${props.children}
    </tbody>
  </table>`;
}
