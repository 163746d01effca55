// How long the development IdP's access tokens last, as `bulkhead up` tells its user: read from the
// environment the IdP inherits (BULKHEAD_ACCESS_TOKEN_TTL_SECONDS) with the IdP's own schema, so the
// line printed is the lifetime the IdP applies.
import { devIdpConfig } from '../idp/config.ts';
import { DEFAULT_ACCESS_TOKEN_TTL_SECONDS } from '../idp/dev-idp-options.ts';

/** "5 minutes", "1 minute", "90 seconds": the IdP's token lifetime under `env`. */
export function tokenLifetimeText(env: NodeJS.ProcessEnv): string {
  const parsed = devIdpConfig.fields.accessTokenTtlSeconds.schema.safeParse(
    env.BULKHEAD_ACCESS_TOKEN_TTL_SECONDS,
  );
  // A value the IdP refuses stops it at its start, before `up` prints anything.
  const seconds = parsed.success ? parsed.data : DEFAULT_ACCESS_TOKEN_TTL_SECONDS;
  if (seconds % 60 !== 0) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = seconds / 60;
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
