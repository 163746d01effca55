// The console of deploy/compose/console.yml over docker-compose.yml, as docs/compose.md sets it up: the images
// built here, the console's confidential client registered at the stack's development IdP, its
// secret a file the console's UID reads, and an auditor signing in with Debian's chromium. The
// browser reaches the IdP at the issuer URL (the host's loopback, the published port) while the
// console reaches it as dev-idp:9400 (BULKHEAD_CONSOLE_PROVIDER_URL), and the image, which holds no
// esbuild, serves the front end built into it.
import { execFile } from 'node:child_process';
import { chmod, chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClient } from '../../dev/idp/dev-client.ts';
import { composeRun, ROOT, type ComposeResult } from '../support/compose.ts';
import {
  composeStackView,
  prepareComposeStack,
  removeStackImages,
  type ComposeStackView,
} from '../support/compose-stack.ts';
import { launchChromium, signIn } from '../support/console-harness.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { freePort } from '../support/stack.ts';

const execFileAsync = promisify(execFile);

/** The console's UID in docker-compose.yml: its secret file must be readable by it alone. */
const CONSOLE_UID = 10006;

let ns: TestNamespace;
let project: string;
let env: Record<string, string>;
let issuer: string;
let consoleUrl: string;
let packVersion: string;
let stack: ComposeStackView;
let browser: Browser | undefined;

function compose(...args: string[]): Promise<ComposeResult> {
  return composeRun(
    ['-p', project, '-f', join(ROOT, 'deploy/compose/console.yml'), '--profile', 'dev', ...args],
    env,
  );
}

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
    BULKHEAD_IDP_USERS: JSON.stringify([
      { id: 'aldo', roles: ['auditor'] },
      { id: 'alice', tenant: 'acme', roles: ['editor'] },
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
  const client = await registerClient({
    issuer,
    initialAccessToken: env.BULKHEAD_IDP_INITIAL_ACCESS_TOKEN!,
    metadata: {
      client_name: 'Bulkhead console (compose test)',
      redirect_uris: [`${consoleUrl}/auth/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid roles',
    },
  });
  const secretFile = join(keysDir, 'console-client.secret');
  await writeFile(secretFile, `${String(client['client_secret'])}\n`, { mode: 0o400 });
  await chown(secretFile, CONSOLE_UID, CONSOLE_UID);
  await chmod(secretFile, 0o400);
  env.BULKHEAD_CONSOLE_CLIENT_ID = String(client['client_id']);
}, 660_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (!ns) return;
  if (env) await compose('down', '-v', '--remove-orphans', '-t', '2');
  await ns.cleanup();
  await removeStackImages(ns.namespace, packVersion);
}, 120_000);

describe('the console in the compose stack', () => {
  it('comes up healthy from the control-plane image, which holds no esbuild', async () => {
    const up = await compose('up', '-d', 'console');
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
  });

  it('signs an auditor in through the IdP at the issuer URL, the code exchanged through dev-idp:9400', async () => {
    browser = await launchChromium();
    const aldo = await signIn(browser, consoleUrl, 'aldo');
    await aldo.page.getByText('auditor').first().waitFor();
    expect(aldo.page.url()).toBe(`${consoleUrl}/`);
    expect(aldo.problems).toEqual([]);
    // The console's own API answers for the session: Redis through its socket, read-only.
    const tenants = await aldo.page.evaluate(async () => (await fetch('/api/tenants')).status);
    expect(tenants).toBe(200);
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
