// The installation's bound on console sessions (BULKHEAD_CONSOLE_MAX_SESSIONS) ends, past it, the
// oldest session of whoever holds the most, not the oldest of all: a few people with a role, each
// within their own share (MAX_SESSIONS_PER_PERSON), used to fill the bound and then end an operator's
// session with each sign-in (a hundred accounts fill the default 1,000). The real console,
// development IdP and Redis, signing in by HTTP as a browser does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SESSIONS_PER_PERSON } from '../../console/auth/sessions.ts';
import { signInByFetch, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

/** Room for the operator's session and a little more than one auditor's share. */
const MAX_SESSIONS = MAX_SESSIONS_PER_PERSON + 2;

let running: ConsoleAlone;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-sessions-bound',
    maxSessions: MAX_SESSIONS,
    users: [
      { id: 'olivia', roles: ['operator'] },
      { id: 'aldo', roles: ['auditor'] },
      { id: 'ada', roles: ['auditor'] },
    ],
  });
});

afterAll(async () => {
  await running?.close();
});

async function status(cookie: string): Promise<number> {
  const res = await fetch(`${running.origin}/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
  await res.body?.cancel();
  return res.status;
}

async function signIns(login: string, count: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) cookies.push(await signInByFetch(running.origin, login));
  return cookies;
}

describe("the installation's bound on sessions", () => {
  it('ends the oldest session of whoever holds the most, never that of a person holding fewer', async () => {
    const [olivia] = await signIns('olivia', 1);
    const aldo = await signIns('aldo', MAX_SESSIONS_PER_PERSON);
    // Each of ada's sign-ins past the bound ends one of aldo's (ten, then fewer) until the two hold
    // as many (aldo's oldest then older), and after that ada's own.
    const ada = await signIns('ada', MAX_SESSIONS_PER_PERSON);
    // Before: ada's second sign-in ended the oldest session of all, olivia's (401).
    expect(await status(olivia!)).toBe(200);
    const open = (cookies: string[], count: number): number[] => [
      ...Array<number>(cookies.length - count).fill(401),
      ...Array<number>(count).fill(200),
    ];
    expect(await Promise.all(aldo.map(status))).toEqual(open(aldo, 5));
    expect(await Promise.all(ada.map(status))).toEqual(open(ada, 6));
  }, 90_000);
});
