// The console's OpenID client options read before it starts: where its own requests to the provider
// go (swapOrigin, both directions of BULKHEAD_CONSOLE_PROVIDER_URL) and its client secret from the
// environment or a file (readClientSecret). The whole sign-in through a provider URL, against the
// real development IdP: test/integration/console-provider-url.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClientSecret, swapOrigin } from '../../console/auth/oidc-client.ts';
import { readBuiltAssets } from '../../console/ui/assets.ts';

const ISSUER = 'https://127.0.0.1:9400';
const PROVIDER = 'http://dev-idp:9400';

describe('swapOrigin', () => {
  it("sends the issuer's own URLs (a provider that publishes them) through the provider URL", () => {
    expect(swapOrigin(`${ISSUER}/token?x=1`, ISSUER, PROVIDER)).toBe('http://dev-idp:9400/token?x=1');
    expect(swapOrigin(`${ISSUER}/jwks`, ISSUER, PROVIDER)).toBe('http://dev-idp:9400/jwks');
  });

  it("names the issuer's origin to the browser where the provider answered with the provider URL's", () => {
    expect(swapOrigin(`${PROVIDER}/auth`, PROVIDER, ISSUER)).toBe('https://127.0.0.1:9400/auth');
  });

  it('leaves URLs at other origins, and everything without a provider URL, as they are', () => {
    expect(swapOrigin('https://keys.example.com/jwks', ISSUER, PROVIDER)).toBe(
      'https://keys.example.com/jwks',
    );
    expect(swapOrigin('https://127.0.0.1:9401/token', ISSUER, PROVIDER)).toBe('https://127.0.0.1:9401/token');
    expect(swapOrigin(`${ISSUER}/token`, ISSUER, undefined)).toBe(`${ISSUER}/token`);
  });
});

describe('readClientSecret', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bulkhead-console-secret-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes the variable, or the file without its trailing newline', async () => {
    expect(await readClientSecret({ clientSecret: 's'.repeat(16) })).toBe('s'.repeat(16));
    const file = join(dir, 'secret');
    await writeFile(file, 'a-secret-of-24-chars-xyz\n');
    expect(await readClientSecret({ clientSecretFile: file })).toBe('a-secret-of-24-chars-xyz');
  });

  it('refuses both, neither, a short secret in the file and a file it cannot read, naming the variable', async () => {
    const file = join(dir, 'short');
    await writeFile(file, 'short\n');
    await expect(readClientSecret({ clientSecret: 's'.repeat(16), clientSecretFile: file })).rejects.toThrow(
      /not both/,
    );
    await expect(readClientSecret({})).rejects.toThrow(/BULKHEAD_CONSOLE_CLIENT_SECRET_FILE/);
    await expect(readClientSecret({ clientSecretFile: file })).rejects.toThrow(/at least 16 characters/);
    await expect(readClientSecret({ clientSecretFile: join(dir, 'missing') })).rejects.toThrow(
      /BULKHEAD_CONSOLE_CLIENT_SECRET_FILE: cannot read .*ENOENT/,
    );
  });
});

describe('readBuiltAssets', () => {
  it('reads main.js and main.css, and names the variable and the build command when one is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-console-assets-'));
    try {
      await writeFile(join(dir, 'main.js'), 'export {};');
      await expect(readBuiltAssets(dir)).rejects.toThrow(
        /BULKHEAD_CONSOLE_ASSETS_DIR: cannot read .*main\.css.*console\/ui\/build-assets\.ts/,
      );
      await writeFile(join(dir, 'main.css'), 'body{}');
      const assets = await readBuiltAssets(dir);
      expect([...assets.keys()]).toEqual(['/assets/main.js', '/assets/main.css']);
      expect(assets.get('/assets/main.css')?.type).toBe('text/css; charset=utf-8');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
