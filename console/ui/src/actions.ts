// The operator's actions on a tenant: each needs a reason, which the audit trail records with who
// asked. Auditors see why there is nothing to press; the server refuses them regardless.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { post, type Me } from './api.ts';

export interface ActionsProps {
  me: Me;
  tenant: string;
  /** The actions offered here, e.g. ['suspend', 'resume', 'recycle'] or ['verify']. */
  actions: { name: string; label: string }[];
  onDone: () => void;
}

export function Actions({ me, tenant, actions, onDone }: ActionsProps) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | undefined>();
  if (me.role !== 'operator')
    return html`<p class="note" data-testid="read-only">
      You are signed in as an auditor: you can read and export everything here, but only operators can act.
    </p>`;
  const id = `reason-${actions.map((a) => a.name).join('-')}`;
  const run = (name: string) => (event: Event) => {
    event.preventDefault();
    if (reason.trim() === '') {
      setMessage({ ok: false, text: 'Give a reason: it goes into the audit trail.' });
      return;
    }
    setBusy(true);
    setMessage({ ok: true, text: `${name}: working…` });
    post(me, `/api/tenants/${encodeURIComponent(tenant)}/actions/${name}`, { reason }).then(
      () => {
        setBusy(false);
        setReason('');
        setMessage({ ok: true, text: `${name}: done` });
        onDone();
      },
      (error: unknown) => {
        setBusy(false);
        setMessage({ ok: false, text: `${name} refused: ${(error as Error).message}` });
      },
    );
  };
  return html`<form class="actions" onSubmit=${(e: Event) => e.preventDefault()}>
    <label for=${id}>Reason (recorded in the audit trail)</label>
    <input
      id=${id}
      name="reason"
      required
      maxlength="500"
      value=${reason}
      onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)}
    />
    <div class="buttons">
      ${actions.map(
        (a) =>
          html`<button type="button" disabled=${busy} data-action=${a.name} onClick=${run(a.name)}>
            ${a.label}
          </button>`,
      )}
    </div>
    <p aria-live="polite" class=${message?.ok === false ? 'problem' : 'status'} data-testid="action-status">
      ${message?.text ?? ''}
    </p>
  </form>`;
}
