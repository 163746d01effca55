// `bulkhead console-client` (dev/cli/console-client-command.ts) against the real development IdP, run
// as the command a person types: the client it registers signs an operator in through the console's
// OpenID client with the secret from the file it wrote (0400, owned by the console's UID), and a
// wrong token, a missing option or a secret file it cannot write are refused, naming what is wrong;
// a file it cannot write before it registers anything (a client whose secret is lost is one no one
// can use, left at the IdP).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOidcClient } from '../../console/auth/oidc-client.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import { freePort } from '../support/stack.ts';

const CLI = join(import.meta.dirname, '../../dev/cli/main.ts');
const CONSOLE_URL = 'http://127.0.0.1:5997';
const initialAccessToken = randomBytes(24).toString('base64url');

let idp: StartedDevIdp;
let dir: string;
/** How many clients the IdP has registered so far (its log line for each). */
let registered = 0;

type Run = { code: number; stdout: string; stderr: string };
function consoleClient(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, 'console-client', ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-console-client-'));
  idp = await startDevIdp({
    port: 0,
    resources: [{ url: 'http://127.0.0.1:8080/mcp', scopes: ['records:read'] }],
    initialAccessToken,
    users: [{ id: 'olivia', roles: ['operator'] }],
    logger: pino(
      { level: 'info' },
      {
        write: (line: string) => {
          if (line.includes('dev IdP registered a client')) registered++;
        },
      },
    ),
  });
});

afterAll(async () => {
  await idp?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('bulkhead console-client', () => {
  it("registers a client the console signs people in with, its secret in a file the console's UID alone reads", async () => {
    const file = join(dir, 'console-client.secret');
    const run = await consoleClient(['--secret-file', file, '--console-url', CONSOLE_URL], {
      BULKHEAD_ISSUER: idp.issuer,
      BULKHEAD_IDP_INITIAL_ACCESS_TOKEN: initialAccessToken,
    });
    expect(run.code, run.stderr).toBe(0);
    const clientId = /^BULKHEAD_CONSOLE_CLIENT_ID=(\S+)\n$/.exec(run.stdout)?.[1];
    expect(clientId).toBeDefined();
    const info = await stat(file);
    expect(info.mode & 0o777).toBe(0o400);
    expect([info.uid, info.gid]).toEqual([10006, 10006]);
    const clientSecret = (await readFile(file, 'utf8')).trimEnd();
    expect(clientSecret.length).toBeGreaterThanOrEqual(16);
    const oidc = await discoverOidcClient({
      issuer: idp.issuer,
      clientId: clientId!,
      clientSecret,
      redirectUri: `${CONSOLE_URL}/auth/callback`,
      scope: 'openid roles',
      rolesClaim: 'roles',
    });
    const { pending, url } = oidc.begin();
    const callback = await signInAtAuthorizationUrl(new URL(url), {
      redirectUri: `${CONSOLE_URL}/auth/callback`,
      login: 'olivia',
    });
    expect(await oidc.complete(pending, callback.searchParams)).toEqual({ sub: 'olivia', role: 'operator' });
  });

  it('refuses a wrong initial access token, missing options and a file it cannot write', async () => {
    const wrong = await consoleClient([
      '--secret-file',
      join(dir, 'wrong.secret'),
      '--issuer',
      idp.issuer,
      '--initial-access-token',
      'not-the-token',
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/^error: /);
    await expect(stat(join(dir, 'wrong.secret'))).rejects.toThrow(/ENOENT/);
    expect(wrong.stderr).toContain('HTTP 401');
    const closed = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await consoleClient([
      '--secret-file',
      join(dir, 'unreachable.secret'),
      '--issuer',
      closed,
      '--initial-access-token',
      initialAccessToken,
    ]);
    expect(unreachable.stderr).toContain(`cannot reach the development IdP at ${closed} (ECONNREFUSED)`);
    const noFile = await consoleClient(['--issuer', idp.issuer]);
    expect([noFile.code, noFile.stderr]).toEqual([2, expect.stringContaining('needs --secret-file FILE')]);
    const noIssuer = await consoleClient(['--secret-file', join(dir, 'x')], { BULKHEAD_ISSUER: '' });
    expect(noIssuer.stderr).toContain('needs --issuer (or BULKHEAD_ISSUER)');
    const before = registered;
    const unwritable = await consoleClient(
      ['--secret-file', join(dir, 'missing-dir', 'secret'), '--owner', 'none'],
      { BULKHEAD_ISSUER: idp.issuer, BULKHEAD_IDP_INITIAL_ACCESS_TOKEN: initialAccessToken },
    );
    expect([unwritable.code, unwritable.stderr]).toEqual([
      2,
      expect.stringContaining('cannot write --secret-file'),
    ]);
    expect(registered - before).toBe(0);
    const notUrl = await consoleClient(
      ['--secret-file', join(dir, 'not-url.secret'), '--issuer', 'idp.example', '--owner', 'none'],
      { BULKHEAD_IDP_INITIAL_ACCESS_TOKEN: initialAccessToken },
    );
    expect([notUrl.code, notUrl.stderr]).toEqual([
      2,
      expect.stringContaining('error: --issuer idp.example is not an http(s) URL'),
    ]);
  });
});
