// Everything the CLI (tenants/cli/main.ts, and dev/cli/main.ts on top of it) reads from its
// environment; `bulkhead --help` lists it and docs/configuration.md is generated from it.
import { resolve } from 'node:path';
import { z } from 'zod';
import { auditDir, INSTALLATION_FIELDS } from '../../kernel/config/common.ts';
import { defineConfig } from '../../kernel/config/define-config.ts';

export const cliConfig = defineConfig(
  {
    title: 'Operator CLI',
    usage: 'bulkhead <command> [options]',
    summary:
      'Operates tenants: their records in the registry (Redis) and their runtimes through the supervisor (node tenants/cli/main.ts; node dev/cli/main.ts adds the development commands up, token, console-client and verify --router).',
  },
  {
    ...INSTALLATION_FIELDS,
    devDir: {
      env: 'BULKHEAD_DEV_DIR',
      schema: z.string().default(resolve(import.meta.dirname, '../../.bulkhead')),
      doc: 'local state: development keys, logs and dev-stack secrets, offboarding exports, the default secret key file',
      defaultText: '<repository>/.bulkhead',
    },
    secretsKeyFile: {
      env: 'BULKHEAD_SECRETS_KEY_FILE',
      schema: z.string().optional(),
      doc: 'AES-256 key of the secret store (created 0600 on first use)',
      defaultText: '$BULKHEAD_DEV_DIR/secrets.key',
    },
    auditDir,
    auditPublicKeyFile: {
      env: 'BULKHEAD_AUDIT_PUBLIC_KEY_FILE',
      schema: z.string().optional(),
      doc: 'Ed25519 public key (SPKI PEM) that `bulkhead audit verify|export` check segment signatures with',
      defaultText: 'none: pass --public-key',
    },
    actor: {
      env: 'BULKHEAD_ACTOR',
      schema: z.string().min(1).optional(),
      doc: "who runs the CLI, recorded as cli:<actor> in the registry's change log",
      defaultText: 'the OS user',
    },
  },
);

export type CliSettings = ReturnType<typeof cliConfig.fromEnv>;

/** The CLI's settings from this process's environment (an invalid_config error when invalid). */
export const cliSettings = (): CliSettings => cliConfig.fromEnv(process.env);
