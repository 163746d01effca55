// The console of deploy/compose/console.yml over docker-compose.yml, as docs/compose.md sets it up:
// the images built here, the whole stack with the dev profile, the console's confidential client
// registered at the stack's development IdP by `bulkhead console-client`, its secret a file the
// console's UID reads, a tenant onboarded by the CLI inside the stack. People sign in with Debian's chromium: the browser
// reaches the IdP at the issuer URL (the host's loopback, the published port) while the console
// reaches it as dev-idp:9400 (BULKHEAD_CONSOLE_PROVIDER_URL). The image, which holds no esbuild,
// serves the front end built into it; the console scrapes the router and the supervisor over their
// telemetry networks, acts through the supervisor's queue and reads the sealed audit segments from
// their volume.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeRun, ROOT, type ComposeResult } from '../support/compose.ts';
import {
  composeStackView,
  prepareComposeStack,
  removeStackImages,
  type ComposeStackView,
} from '../support/compose-stack.ts';
import { launchChromium, signIn, type BrowserUser } from '../support/console-harness.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { freePort } from '../support/stack.ts';

const execFileAsync = promisify(execFile);

const TENANT = 'acme';

let ns: TestNamespace;
let project: string;
let env: Record<string, string>;
let issuer: string;
let consoleUrl: string;
let packVersion: string;
let stack: ComposeStackView;
let browser: Browser | undefined;
let onboarded = false;

function compose(...args: string[]): Promise<ComposeResult> {
  return composeRun(
    ['-p', project, '-f', join(ROOT, 'deploy/compose/console.yml'), '--profile', 'dev', ...args],
    env,
  );
}

/** The operator CLI inside the stack. */
const cli = (...args: string[]): Promise<ComposeResult> => compose('run', '--rm', '-T', 'cli', ...args);

/** GET a console API path as the signed-in user. */
/** The console's JSON answer to `path`; any other answer fails with its status and body. */
const api = async <T>(user: BrowserUser, path: string): Promise<T> => {
  const { status, body } = await user.page.evaluate(async (p) => {
    const response = await fetch(p);
    return { status: response.status, body: await response.text() };
  }, path);
  if (status !== 200) throw new Error(`GET ${path}: ${status} ${body.slice(0, 500)}`);
  return JSON.parse(body) as T;
};

beforeAll(async () => {
  ns = await testNamespace('compose-console');
  project = `bulkhead-${ns.namespace}`;
  stack = composeStackView({ docker: ns.docker, project, namespace: ns.namespace });
  ({ env, issuer, packVersion } = await prepareComposeStack(ns));
  const keysDir = env.BULKHEAD_KEYS_DIR!;
  const consolePort = await freePort();
  consoleUrl = `http://127.0.0.1:${consolePort}`;
  env = {
    ...env,
    BULKHEAD_CONSOLE_PUBLISHED_PORT: String(consolePort),
    BULKHEAD_CONSOLE_URL: consoleUrl,
    BULKHEAD_CONSOLE_PROVIDER_URL: 'http://dev-idp:9400',
    BULKHEAD_CONSOLE_SCRAPE_INTERVAL_MS: '2000',
    BULKHEAD_IDP_USERS: JSON.stringify([
      { id: 'olivia', roles: ['operator'] },
      { id: 'aldo', roles: ['auditor'] },
    ]),
  };
  // The IdP first: the console's client is registered there before the console starts.
  const idp = await compose('up', '-d', 'dev-idp');
  expect(idp.code, idp.stderr).toBe(0);
  await stack.waitFor(
    'the IdP',
    'dev-idp',
    async () => (await fetch(`${issuer}/.well-known/openid-configuration`)).ok,
  );
  // The client registered and its secret file written as docs/compose.md says: the dev CLI, on the host.
  const registered = await execFileAsync(
    process.execPath,
    [
      join(ROOT, 'dev/cli/main.ts'),
      'console-client',
      '--secret-file',
      join(keysDir, 'console-client.secret'),
      '--console-url',
      consoleUrl,
    ],
    {
      env: {
        ...process.env,
        BULKHEAD_ISSUER: issuer,
        BULKHEAD_IDP_INITIAL_ACCESS_TOKEN: env.BULKHEAD_IDP_INITIAL_ACCESS_TOKEN,
      },
    },
  );
  const line = /^BULKHEAD_CONSOLE_CLIENT_ID=(\S+)$/m.exec(registered.stdout);
  expect(line, registered.stderr).not.toBeNull();
  env.BULKHEAD_CONSOLE_CLIENT_ID = line![1]!;
  browser = await launchChromium();
}, 660_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (!ns) return;
  if (onboarded) await cli('offboard', TENANT, '--yes');
  if (env) await compose('down', '-v', '--remove-orphans', '-t', '2');
  await ns.cleanup();
  await removeStackImages(ns.namespace, packVersion);
}, 180_000);

describe('the console in the compose stack', () => {
  it('comes up healthy from the control-plane image, which holds no esbuild', async () => {
    const up = await compose('up', '-d');
    expect(up.code, up.stderr).toBe(0);
    await stack.waitFor('the console', 'console', async () => (await fetch(`${consoleUrl}/healthz`)).ok);
    const image = `bulkhead/control-plane:${ns.namespace}`;
    const probe = await execFileAsync('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      image,
      'node',
      '-e',
      "import('esbuild').then(() => process.exit(0), () => process.exit(3))",
    ]).then(
      () => 0,
      (error: { code?: number }) => error.code,
    );
    expect(probe).toBe(3);
    // The front end the image was built with, under the console's policy.
    const script = await fetch(`${consoleUrl}/assets/main.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await script.text()).length).toBeGreaterThan(10_000);
    const onboard = await cli('onboard', TENANT);
    expect(onboard.code, onboard.stderr).toBe(0);
    onboarded = true;
  });

  it('signs an operator in through the IdP at the issuer URL, the code exchanged through dev-idp:9400, and acts', async () => {
    const olivia = await signIn(browser!, consoleUrl, 'olivia');
    expect(olivia.page.url()).toBe(`${consoleUrl}/`);
    const { tenants } = await api<{ tenants: { id: string; status: string }[] }>(olivia, '/api/tenants');
    expect(tenants.map((t) => [t.id, t.status])).toEqual([[TENANT, 'active']]);
    // Through the supervisor's queue, as the CLI acts: the suspension reaches the registry.
    const act = (action: string) =>
      olivia.page.evaluate(
        async ([tenant, name]) => {
          const me = (await (await fetch('/api/me')).json()) as { csrf: string };
          const response = await fetch(`/api/tenants/${tenant}/actions/${name}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf },
            body: JSON.stringify({ reason: 'compose console test' }),
          });
          return response.status;
        },
        [TENANT, action] as const,
      );
    expect(await act('suspend')).toBe(200);
    expect((await api<{ status: string }>(olivia, `/api/tenants/${TENANT}`)).status).toBe('suspended');
    expect(await act('resume')).toBe(200);
    expect((await api<{ status: string }>(olivia, `/api/tenants/${TENANT}`)).status).toBe('active');
    expect(olivia.problems).toEqual([]);
    await olivia.context.close();
  });

  it("shows an auditor the router's and the supervisor's metrics and the sealed trail, with those actions", async () => {
    const aldo = await signIn(browser!, consoleUrl, 'aldo');
    await aldo.page.getByText('auditor').first().waitFor();
    // Scraped every 2 s over the two telemetry networks.
    await stack.waitFor('both metrics targets scraped', 'console', async () => {
      const { targets } = await api<{ targets: { url: string; ok: boolean }[] }>(aldo, '/api/metrics');
      return targets.length === 2 && targets.every((t) => t.ok);
    });
    // The supervisor seals every 2 s (BULKHEAD_AUDIT_SEAL_INTERVAL_MS): the console reads the
    // segments from their volume, in the readers' group, and checks them with the public key.
    type View = {
      entries: { user: string; tool: string; segment?: number }[];
      chain: { ok: boolean; sealed?: { segments: number } };
    };
    let view: View | undefined;
    await stack.waitFor('the actions sealed', 'supervisor', async () => {
      view = await api<View>(aldo, `/api/tenants/${TENANT}/audit?who=olivia`);
      return view.entries.length === 2 && view.entries.every((e) => e.segment !== undefined);
    });
    expect(view!.chain).toMatchObject({ ok: true, sealed: { segments: expect.any(Number) } });
    expect(view!.entries.map((e) => [e.user, e.tool])).toEqual([
      ['console:olivia', 'operator/suspend'],
      ['console:olivia', 'operator/resume'],
    ]);
    expect(aldo.problems).toEqual([]);
    await aldo.context.close();
  });

  it('refuses to start without its client secret, naming the file', async () => {
    const run = await compose(
      'run',
      '--rm',
      '-T',
      '-e',
      'BULKHEAD_CONSOLE_CLIENT_SECRET_FILE=/run/secrets/missing',
      'console',
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr + run.stdout).toMatch(
      /BULKHEAD_CONSOLE_CLIENT_SECRET_FILE: cannot read \/run\/secrets\/missing/,
    );
  });
});
