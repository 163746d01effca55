// One configuration declaration per process gives its environment parsing, its option defaults,
// its --help and its reference section; these checks use a small declaration of their own.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { idempotencyWindowMs, metricsHost, namespace, redisUrl } from '../../kernel/config/common.ts';
import { defaultOf, defineConfig } from '../../kernel/config/define-config.ts';

const config = defineConfig(
  { title: 'Example', usage: 'node example.ts', summary: 'Runs an example.' },
  {
    redisUrl,
    namespace,
    idempotencyWindowMs,
    issuer: { env: 'BULKHEAD_ISSUER', schema: z.url(), doc: 'trusted token issuer URL' },
    port: {
      env: 'BULKHEAD_PORT',
      schema: z.coerce.number().int().min(0).max(65535).default(8080),
      doc: 'port',
    },
    settleMs: { schema: z.number().int().min(0).default(250), doc: 'option only' },
  },
);

describe('defineConfig', () => {
  it('parses the environment, filling every default once', () => {
    expect(config.fromEnv({ BULKHEAD_ISSUER: 'https://idp.example/', BULKHEAD_PORT: '9000' })).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      namespace: 'default',
      idempotencyWindowMs: 86_400_000,
      issuer: 'https://idp.example/',
      port: 9000,
      settleMs: 250,
    });
  });

  it('refuses a bad or missing value as invalid_config, naming the variable', () => {
    let caught: unknown;
    try {
      config.fromEnv({ BULKHEAD_PORT: '70000', BULKHEAD_NAMESPACE: 'Bad_Name' });
    } catch (error) {
      caught = error;
    }
    expect(isBulkheadError(caught, 'invalid_config')).toBe(true);
    const message = (caught as Error).message;
    for (const name of ['BULKHEAD_ISSUER', 'BULKHEAD_PORT', 'BULKHEAD_NAMESPACE'])
      expect(message).toContain(name);
  });

  // zod says "Invalid input" of a value no form of a union takes; why each form refused it is the
  // reason an operator needs.
  it("says why a value fits none of a setting's forms", () => {
    const host = defineConfig(
      { title: 'Example', summary: 'Binds an address.' },
      { host: metricsHost('BULKHEAD_EXAMPLE_HOST') },
    );
    expect(() => host.fromEnv({ BULKHEAD_EXAMPLE_HOST: 'localhost' })).toThrow(
      'invalid configuration of Example:\n  BULKHEAD_EXAMPLE_HOST: none of its forms: Invalid IPv4 address; or Invalid IPv6 address',
    );
  });

  it('resolves options given in code with the same defaults', () => {
    expect(config.resolve({ issuer: 'https://idp.example/', settleMs: 5 })).toMatchObject({
      port: 8080,
      settleMs: 5,
      idempotencyWindowMs: 86_400_000,
    });
  });

  it('writes --help and the reference from the declaration', () => {
    const usage = config.usage();
    expect(usage).toMatch(/^Usage: node example.ts\n\nRuns an example.\nEnvironment:\n/);
    expect(usage).toMatch(/BULKHEAD_ISSUER +trusted token issuer URL \(required\)/);
    expect(usage).toMatch(/BULKHEAD_PORT +port \(default 8080\)/);
    expect(usage).not.toContain('option only');
    expect(config.markdown()).toContain(
      '- `BULKHEAD_REDIS_URL` (default `redis://127.0.0.1:6379`): Redis URL',
    );
    expect(config.markdown()).toContain('- `BULKHEAD_ISSUER` (required): trusted token issuer URL');
    expect(
      defaultOf(
        z
          .string()
          .default('[]')
          .transform((v) => v.length),
      ),
    ).toBe('[]');
  });

  it('says no default in --help and in the reference alike for an empty default text', () => {
    const empty = defineConfig(
      { title: 'Empty', summary: 'Has a field with an empty default text.' },
      {
        modules: { env: 'BULKHEAD_MODULES', schema: z.string().default(''), doc: 'modules', defaultText: '' },
      },
    );
    expect(empty.usage()).toMatch(/BULKHEAD_MODULES +modules$/m);
    expect(empty.markdown()).toContain('- `BULKHEAD_MODULES`: modules\n');
  });

  it('refuses a setting a timer waits out past the timer bound, in its unit, and says the bound', () => {
    const timed = defineConfig(
      { title: 'Timed', usage: 'node timed.ts', summary: 'Waits.' },
      {
        graceSeconds: {
          env: 'BULKHEAD_GRACE_SECONDS',
          schema: z.coerce.number().int().min(0).default(10),
          doc: 'grace',
          timer: 'seconds',
        },
      },
    );
    expect(timed.fromEnv({ BULKHEAD_GRACE_SECONDS: '2147483' })).toEqual({ graceSeconds: 2_147_483 });
    expect(() => timed.fromEnv({ BULKHEAD_GRACE_SECONDS: '2147484' })).toThrow(
      /BULKHEAD_GRACE_SECONDS: 2147484 is too long: at most 2147483 seconds \(about 24\.8 days/,
    );
    expect(timed.usage()).toContain('grace; at most 2147483 seconds');
  });
});
