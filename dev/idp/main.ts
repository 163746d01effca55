// Process entry of the development IdP: `node dev/idp/main.ts`. Wiring only: configuration
// from the environment (checked by a zod schema), start, log, stop on SIGTERM/SIGINT.

import { jsonListEnv, processConfig, stopOnSignals } from '../../kernel/process/process-entry.ts';
import pino from 'pino';
import { z } from 'zod';

import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { startDevIdp } from './dev-idp.ts';

const USAGE = `Usage: node dev/idp/main.ts [--help]

Runs Bulkhead's development identity provider (oidc-provider, in-memory storage: development only).

Environment:
  BULKHEAD_IDP_INITIAL_ACCESS_TOKEN  required; secret (16+ characters) that protects client registration
  BULKHEAD_IDP_HOST                  listen address (default 127.0.0.1)
  BULKHEAD_IDP_PORT                  listen port (default 9400; 0 picks a free port)
  BULKHEAD_IDP_ISSUER                issuer URL (default http://<host>:<port>; not with port 0)
  BULKHEAD_RESOURCE_URL              the MCP resource URL, the tokens' audience (default http://127.0.0.1:8080/mcp)
  BULKHEAD_RESOURCE_SCOPES           space-separated scopes of that resource (default "${ALL_SCOPES.join(' ')}")
  BULKHEAD_ACCESS_TOKEN_TTL_SECONDS  access token lifetime (default 300)
  BULKHEAD_IDP_USERS                 JSON list of accounts for user logins (default none), e.g.
                                     [{"id":"alice","tenant":"acme","roles":["editor"]}]
  LOG_LEVEL                          pino level (default info)
`;

const EnvSchema = z.object({
  BULKHEAD_IDP_INITIAL_ACCESS_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  BULKHEAD_IDP_HOST: z.string().min(1).default('127.0.0.1'),
  BULKHEAD_IDP_PORT: z.coerce.number().int().min(0).max(65_535).default(9400),
  BULKHEAD_IDP_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  BULKHEAD_RESOURCE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080/mcp'),
  BULKHEAD_RESOURCE_SCOPES: z
    .string()
    .default(ALL_SCOPES.join(' '))
    .transform((value) => value.split(/\s+/).filter(Boolean)),
  BULKHEAD_ACCESS_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60 * 60)
    .default(300),
  BULKHEAD_IDP_USERS: jsonListEnv(
    z.strictObject({ id: z.string(), tenant: z.string(), roles: z.array(z.string()) }),
  ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

async function main(): Promise<void> {
  const env = processConfig(EnvSchema, USAGE);
  if (!env) return;
  const logger = pino({ name: 'dev-idp', level: env.LOG_LEVEL });

  const idp = await startDevIdp({
    host: env.BULKHEAD_IDP_HOST,
    port: env.BULKHEAD_IDP_PORT,
    ...(env.BULKHEAD_IDP_ISSUER === undefined ? {} : { issuer: env.BULKHEAD_IDP_ISSUER }),
    resources: [{ url: env.BULKHEAD_RESOURCE_URL, scopes: env.BULKHEAD_RESOURCE_SCOPES }],
    initialAccessToken: env.BULKHEAD_IDP_INITIAL_ACCESS_TOKEN,
    users: env.BULKHEAD_IDP_USERS,
    defaultAccessTokenTtlSeconds: env.BULKHEAD_ACCESS_TOKEN_TTL_SECONDS,
    logger,
  });
  logger.info(
    {
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      tokenEndpoint: idp.tokenEndpoint,
      resource: env.BULKHEAD_RESOURCE_URL,
    },
    'dev IdP ready',
  );

  stopOnSignals(
    () => idp.close(),
    (signal) => logger.info({ signal }, 'dev IdP stopping'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`dev IdP failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
