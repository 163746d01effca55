// What the console reads from its environment (`node console/main.ts`): its --help and its section
// of the configuration reference come from this declaration.
import { z } from 'zod';
import { auditDir, INSTALLATION_FIELDS, logLevel, tenantClaim } from '../kernel/config/common.ts';
import { defineConfig } from '../kernel/config/define-config.ts';

const HttpUrl = z.url({ protocol: /^https?$/ });
const int = () => z.coerce.number().int();

export const consoleConfig = defineConfig(
  {
    title: 'Console',
    usage: 'node console/main.ts [--help]',
    summary:
      "Serves the web console for operators and auditors, signed in through the installation's OpenID provider.",
  },
  {
    ...INSTALLATION_FIELDS,
    host: {
      env: 'BULKHEAD_CONSOLE_HOST',
      schema: z.string().min(1).default('127.0.0.1'),
      doc: 'listen address',
    },
    port: {
      env: 'BULKHEAD_CONSOLE_PORT',
      schema: int().min(0).max(65_535).default(8090),
      doc: 'listen port (0 picks a free port)',
    },
    publicUrl: {
      env: 'BULKHEAD_CONSOLE_URL',
      schema: HttpUrl.optional(),
      doc: 'the origin people open (redirect URI base, the only Origin actions are accepted from); https: Secure cookies named with the __Host- and __Secure- prefixes, and Strict-Transport-Security',
      defaultText: 'http://<host>:<port>',
    },
    issuer: {
      env: 'BULKHEAD_CONSOLE_ISSUER',
      schema: HttpUrl,
      doc: "the OpenID provider's issuer URL (its /.well-known/openid-configuration is read at start)",
    },
    clientId: {
      env: 'BULKHEAD_CONSOLE_CLIENT_ID',
      schema: z.string().min(1),
      doc: "the console's client id at the OpenID provider (a confidential client, authorization code + PKCE)",
    },
    clientSecret: {
      env: 'BULKHEAD_CONSOLE_CLIENT_SECRET',
      schema: z.string().min(16, 'must be at least 16 characters').optional(),
      doc: "the console's client secret (kept in the process; never sent to a browser); this or BULKHEAD_CONSOLE_CLIENT_SECRET_FILE is required",
      defaultText: 'none',
    },
    clientSecretFile: {
      env: 'BULKHEAD_CONSOLE_CLIENT_SECRET_FILE',
      schema: z.string().min(1).optional(),
      doc: 'a file holding the client secret instead (a container secret), read at start; one trailing newline is ignored',
      defaultText: 'none',
    },
    providerUrl: {
      env: 'BULKHEAD_CONSOLE_PROVIDER_URL',
      schema: HttpUrl.optional(),
      doc: "where this process reaches the OpenID provider when that differs from the issuer URL browsers use (a container network): its discovery, token and JWKS requests to the issuer's origin go to this origin; the issuer checked stays BULKHEAD_CONSOLE_ISSUER",
      defaultText: 'the issuer URL',
    },
    rolesClaim: {
      env: 'BULKHEAD_CONSOLE_ROLES_CLAIM',
      schema: z.string().min(1).default('roles'),
      doc: "the ID token claim (a list) that holds 'operator' or 'auditor'",
    },
    tenantClaim,
    scope: {
      env: 'BULKHEAD_CONSOLE_SCOPE',
      schema: z.string().min(1).default('openid roles'),
      doc: 'scopes asked for at sign-in (must put the roles claim in the ID token)',
    },
    sessionTtlMs: {
      env: 'BULKHEAD_CONSOLE_SESSION_TTL_MS',
      // The role is the ID token's at sign-in, never asked again: this bounds how long a role the
      // IdP has taken away still holds here (docs/console.md, "Signing in").
      schema: int()
        .min(60_000)
        .default(15 * 60 * 1000),
      doc: 'how long a sign-in lasts (server-side session), and so how long the role the IdP gave at sign-in is trusted: a role the IdP revokes holds in the console until then, and signing in again asks the IdP',
    },
    maxSessions: {
      env: 'BULKHEAD_CONSOLE_MAX_SESSIONS',
      schema: int().min(1).default(1_000),
      doc: 'signed-in sessions kept at once, in Redis, by every console process of the installation together; past 10 of one person, their own oldest go first, and past this bound the oldest of whoever holds the most (sign-ins in progress are kept in their browsers)',
    },
    metricsTargets: {
      env: 'BULKHEAD_CONSOLE_METRICS_TARGETS',
      // A space-separated string from the environment, a list from code.
      schema: z.preprocess(
        (value) => (typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : (value ?? [])),
        z.array(HttpUrl),
      ),
      doc: 'space-separated Prometheus /metrics URLs of the routers and the supervisor, scraped for the charts',
      defaultText: 'none',
    },
    scrapeIntervalMs: {
      timer: 'ms',
      env: 'BULKHEAD_CONSOLE_SCRAPE_INTERVAL_MS',
      schema: int().min(1_000).default(15_000),
      doc: 'how often the metrics targets are scraped',
    },
    samplesKept: {
      env: 'BULKHEAD_CONSOLE_SAMPLES_KEPT',
      schema: int().min(2).max(10_000).default(240),
      doc: 'scrapes kept in memory for the charts (240 at 15 s: one hour)',
    },
    tenantsPageSize: {
      env: 'BULKHEAD_CONSOLE_TENANTS_PAGE_SIZE',
      schema: int().min(1).max(500).default(50),
      doc: "tenants on a page of the console's list, and the most a request may ask for (`limit`): each costs a supervisor job inspecting its runtime per view",
    },
    assetsDir: {
      env: 'BULKHEAD_CONSOLE_ASSETS_DIR',
      schema: z.string().min(1).optional(),
      doc: 'the front end built ahead by `node console/ui/build-assets.ts DIR` (the control-plane image sets it); unset: bundled from console/ui/src with esbuild at start',
      defaultText: 'none',
    },
    verifiedEntries: {
      env: 'BULKHEAD_CONSOLE_VERIFIED_ENTRIES',
      schema: int().min(0).default(100_000),
      doc: 'audit entries of verified segments kept in memory, so that views skip checking them again (about 350 bytes each)',
    },
    exportTimeoutMs: {
      timer: 'ms',
      env: 'BULKHEAD_CONSOLE_EXPORT_TIMEOUT_MS',
      schema: int()
        .min(1_000)
        .default(10 * 60 * 1000),
      doc: 'how long an audit export may take from its first read, a slow client and a Redis that stops answering included; past it the download is cut (it fails, never looks whole) and the console logs why, or, before its header, it is answered state_unavailable (503)',
    },
    runtimeTimeoutMs: {
      timer: 'ms',
      env: 'BULKHEAD_CONSOLE_RUNTIME_TIMEOUT_MS',
      schema: int().min(1_000).default(120_000),
      doc: 'how long an action waits for the supervisor (suspend, resume, recycle, verify)',
    },
    auditDir,
    auditPublicKeyFile: {
      env: 'BULKHEAD_AUDIT_PUBLIC_KEY_FILE',
      schema: z.string().min(1).optional(),
      doc: "Ed25519 public key (SPKI PEM) the console checks the sealed audit segments under BULKHEAD_AUDIT_DIR with, to show each tenant's whole trail; unset: only the entries still in Redis",
      defaultText: 'none',
    },
    logLevel,
  },
);
