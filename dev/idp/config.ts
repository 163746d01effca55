// What the development IdP reads from its environment (`node dev/idp/main.ts`): its --help and its
// section of the configuration reference come from this declaration.
import { z } from 'zod';
import { logLevel } from '../../kernel/config/common.ts';
import { defineConfig } from '../../kernel/config/define-config.ts';
import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { jsonListEnv } from '../../kernel/process/process-entry.ts';
import { DEFAULT_ACCESS_TOKEN_TTL_SECONDS } from './dev-idp-options.ts';

const HttpUrl = z.url({ protocol: /^https?$/ });

export const devIdpConfig = defineConfig(
  {
    title: 'Development IdP',
    usage: 'node dev/idp/main.ts [--help]',
    summary:
      "Runs Bulkhead's development identity provider (oidc-provider, in-memory storage: development only).",
  },
  {
    initialAccessToken: {
      env: 'BULKHEAD_IDP_INITIAL_ACCESS_TOKEN',
      schema: z.string().min(16, 'must be at least 16 characters'),
      doc: 'secret (16+ characters) for operator registrations: agents acting alone, web redirect URIs (user clients with loopback redirect URIs register without it)',
    },
    host: {
      env: 'BULKHEAD_IDP_HOST',
      schema: z.string().min(1).default('127.0.0.1'),
      doc: 'listen address',
    },
    port: {
      env: 'BULKHEAD_IDP_PORT',
      schema: z.coerce.number().int().min(0).max(65_535).default(9400),
      doc: 'listen port (0 picks a free port)',
    },
    issuer: {
      env: 'BULKHEAD_IDP_ISSUER',
      schema: HttpUrl.optional(),
      doc: 'issuer URL (leave unset with port 0)',
      defaultText: 'http://<host>:<port>',
    },
    resourceUrl: {
      env: 'BULKHEAD_RESOURCE_URL',
      schema: HttpUrl.default('http://127.0.0.1:8080/mcp'),
      doc: "the MCP resource URL, the tokens' audience",
    },
    resourceScopes: {
      env: 'BULKHEAD_RESOURCE_SCOPES',
      schema: z
        .string()
        .default(ALL_SCOPES.join(' '))
        .transform((value) => value.split(/\s+/).filter(Boolean)),
      doc: 'space-separated scopes of that resource',
    },
    resourceMetadataUrl: {
      env: 'BULKHEAD_IDP_RESOURCE_METADATA_URL',
      schema: HttpUrl.optional(),
      doc: "where to read the resource's metadata when its own URL does not reach it from the IdP (docker-compose.yml: the router by its service name); the document must still name BULKHEAD_RESOURCE_URL",
      defaultText: "the resource URL's well-known metadata URL",
    },
    readResourceMetadata: {
      env: 'BULKHEAD_IDP_READ_RESOURCE_METADATA',
      schema: z
        .preprocess((value) => (typeof value === 'string' ? value === 'true' : value), z.boolean())
        .default(true),
      doc: "also grant the scopes the resource advertises in its protected resource metadata ('true'): a Bulkhead router's include every approved pack's",
    },
    accessTokenTtlSeconds: {
      env: 'BULKHEAD_ACCESS_TOKEN_TTL_SECONDS',
      schema: z.coerce
        .number()
        .int()
        .min(1)
        .max(24 * 60 * 60)
        .default(DEFAULT_ACCESS_TOKEN_TTL_SECONDS),
      doc: 'access token lifetime in seconds',
    },
    users: {
      env: 'BULKHEAD_IDP_USERS',
      schema: jsonListEnv(
        z.strictObject({ id: z.string(), tenant: z.string().optional(), roles: z.array(z.string()) }),
      ),
      doc: 'JSON list of accounts for user logins, e.g. [{"id":"alice","tenant":"acme","roles":["editor"]}]; no tenant: an installation user (console roles)',
      defaultText: 'none',
    },
    logLevel,
  },
);
