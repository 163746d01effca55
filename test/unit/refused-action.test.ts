// What the audit trail keeps of an action the console refused (tenants/control-plane/operator-actions.ts):
// the refused actor's own words, as one line, however they were typed.
import { describe, expect, it } from 'vitest';
import type { AuditEvent, AuditSink } from '../../kernel/audit/audit-trail.ts';
import { recordRefusedAction } from '../../tenants/control-plane/operator-actions.ts';

describe('a refused operator action', () => {
  it('is recorded as denied, with the reason asked reduced to one line of at most 500 characters', async () => {
    const appended: AuditEvent[] = [];
    const audit: AuditSink = {
      append: (event) => {
        appended.push(event);
        return Promise.resolve();
      },
    };
    const reason = `ok\n{"decision":"permit"}\r\u0007${'x'.repeat(600)}`;
    await recordRefusedAction(
      audit,
      { tenant: 'acme', action: 'suspend', actor: 'console:aldo', reason },
      'refused: role auditor may not act',
    );
    const [event] = appended;
    expect(event).toMatchObject({ tenant: 'acme', user: 'console:aldo', decision: 'deny' });
    expect(event!.reason).toMatch(
      /^refused: role auditor may not act; asked with reason: ok \{"decision":"permit"\} {2}x+$/,
    );
    expect(event!.reason).not.toMatch(/\p{Cc}/u);
    expect(event!.reason.length).toBe('refused: role auditor may not act; asked with reason: '.length + 500);
  });
});
