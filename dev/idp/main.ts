// Process entry of the development IdP: `node dev/idp/main.ts`. Wiring only: configuration
// from the environment (dev/idp/config.ts), start, log, stop on SIGTERM/SIGINT.

import pino from 'pino';
import { loadConfig, stopOnSignals } from '../../kernel/process/process-entry.ts';
import { devIdpConfig } from './config.ts';
import { startDevIdp } from './dev-idp.ts';

async function main(): Promise<void> {
  const config = loadConfig(devIdpConfig);
  if (!config) return;
  const logger = pino({ name: 'dev-idp', level: config.logLevel });

  const idp = await startDevIdp({
    host: config.host,
    port: config.port,
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    resources: [
      {
        url: config.resourceUrl,
        scopes: config.resourceScopes,
        readMetadata: config.readResourceMetadata,
        ...(config.resourceMetadataUrl === undefined ? {} : { metadataUrl: config.resourceMetadataUrl }),
      },
    ],
    initialAccessToken: config.initialAccessToken,
    users: config.users,
    defaultAccessTokenTtlSeconds: config.accessTokenTtlSeconds,
    logger,
  });
  logger.info(
    {
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      tokenEndpoint: idp.tokenEndpoint,
      resource: config.resourceUrl,
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
