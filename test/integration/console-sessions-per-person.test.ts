// One person's sign-ins cannot end another's console session. Sessions are bounded in number, the
// oldest going first (BULKHEAD_CONSOLE_MAX_SESSIONS); an auditor who signs in again and again (a
// loop of sign-ins at the IdP, which asks nothing while its own session lasts) used to push out
// every operator's session that way, an action on the operators an auditor may not take. Each
// person now keeps at most MAX_SESSIONS_PER_PERSON, their own oldest going first. The real console,
// development IdP and Redis, signing in by HTTP as a browser does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SESSIONS_PER_PERSON } from '../../console/auth/sessions.ts';
import {
  sessionStatus,
  signInByFetch,
  startConsoleAlone,
  type ConsoleAlone,
} from '../support/console-alone.ts';

/** Room for everyone's sessions but not for an auditor's loop of sign-ins beside an operator's. */
const MAX_SESSIONS = MAX_SESSIONS_PER_PERSON + 2;

let running: ConsoleAlone;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-sessions-person',
    maxSessions: MAX_SESSIONS,
    users: [
      { id: 'olivia', roles: ['operator'] },
      { id: 'aldo', roles: ['auditor'] },
    ],
  });
});

afterAll(async () => {
  await running?.close();
});

const status = (cookie: string): Promise<number> => sessionStatus(running.origin, cookie);

describe("a person's sign-ins", () => {
  it("end their own oldest sessions past their share, never another person's", async () => {
    const olivia = await signInByFetch(running.origin, 'olivia');
    const aldo: string[] = [];
    for (let i = 0; i < MAX_SESSIONS; i++) aldo.push(await signInByFetch(running.origin, 'aldo'));
    // Before: the bound let aldo's last sign-in end the oldest session of all, olivia's (401).
    expect(await status(olivia)).toBe(200);
    const answers = await Promise.all(aldo.map(status));
    expect(answers).toEqual([
      ...Array<number>(MAX_SESSIONS - MAX_SESSIONS_PER_PERSON).fill(401),
      ...Array<number>(MAX_SESSIONS_PER_PERSON).fill(200),
    ]);
  }, 60_000);
});
