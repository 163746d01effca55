// The installation's bound on console sessions (BULKHEAD_CONSOLE_MAX_SESSIONS) ends, past it, the
// oldest session of whoever holds the most, not the oldest of all: a few people with a role, each
// within their own share (MAX_SESSIONS_PER_PERSON), used to fill the bound and then end an operator's
// session with each sign-in (a hundred accounts fill the default 1,000). The real console,
// development IdP and Redis, signing in by HTTP as a browser does.
import { describe, expect, it } from 'vitest';
import { MAX_SESSIONS_PER_PERSON } from '../../console/auth/sessions.ts';
import { sessionStatus, signInByFetch, startConsoleAlone } from '../support/console-alone.ts';

describe("the installation's bound on sessions", () => {
  it('ends the oldest session of whoever holds the most, never that of a person holding fewer', async () => {
    // Room for the operator's session and a little more than one auditor's share.
    const running = await startConsoleAlone({
      name: 'console-sessions-bound',
      maxSessions: MAX_SESSIONS_PER_PERSON + 2,
      users: [
        { id: 'olivia', roles: ['operator'] },
        ...['aldo', 'ada'].map((id) => ({ id, roles: ['auditor'] })),
      ],
    });
    try {
      const signIns = async (login: string, count: number): Promise<string[]> => {
        const cookies: string[] = [];
        for (let i = 0; i < count; i++) cookies.push(await signInByFetch(running.origin, login));
        return cookies;
      };
      /** Each cookie's answer: the oldest `cookies.length - count` ended (401), the rest open. */
      const open = async (cookies: string[], count: number): Promise<void> =>
        expect(await Promise.all(cookies.map((c) => sessionStatus(running.origin, c)))).toEqual([
          ...Array<number>(cookies.length - count).fill(401),
          ...Array<number>(count).fill(200),
        ]);
      const olivia = await signIns('olivia', 1);
      const aldo = await signIns('aldo', MAX_SESSIONS_PER_PERSON);
      // Each of ada's sign-ins past the bound ends one of aldo's (ten, then fewer) until the two hold
      // as many (aldo's oldest then older), and after that ada's own.
      const ada = await signIns('ada', MAX_SESSIONS_PER_PERSON);
      // Before: ada's second sign-in ended the oldest session of all, olivia's (401).
      await open(olivia, 1);
      await open(aldo, 5);
      await open(ada, 6);
    } finally {
      await running.close();
    }
  }, 90_000);
});
