// `bulkhead console-client`: registers a console's confidential client at the development IdP and
// writes its secret to a file, for a console run elsewhere than `bulkhead up` (deploy/compose/
// console.yml: docs/compose.md, "The console"). Prints the client id as an environment line.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, UsageError, type Command } from '../../tenants/cli/command-kit.ts';
import { registerConsoleClient } from './dev-console.ts';

/** The console's UID in deploy/compose/console.yml, which must be able to read the secret file. */
const COMPOSE_CONSOLE_UID = 10006;

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`console-client needs ${what}`);
  return value;
}

/** A file refused: why, in the operator's terms. */
function secretFileError(file: string, owner: number | undefined, error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPERM' && owner !== undefined)
    return new UsageError(`cannot hand ${file} to UID ${owner} (run as root, or --owner none)`);
  return new UsageError(`cannot write --secret-file ${file}: ${code ?? (error as Error).message}`);
}

/**
 * The secret file, readable by `owner` alone (0400), taken before the client is registered: a file
 * that cannot be written or handed to `owner` is refused while nothing exists at the IdP, not after
 * a client whose secret then has nowhere to go. Written beside `file` and renamed: whole or not at all.
 */
async function openSecretFile(
  file: string,
  owner: number | undefined,
): Promise<{ write(text: string): Promise<void>; discard(): Promise<void> }> {
  const partial = join(dirname(file), `.console-client-${process.pid}.partial`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(partial, 'wx', 0o400);
    if (owner !== undefined) await handle.chown(owner, owner);
  } catch (error) {
    if (handle) {
      await handle.close();
      await rm(partial, { force: true });
    }
    throw secretFileError(file, owner, error);
  }
  const opened = handle;
  const discard = async (): Promise<void> => {
    await opened.close().catch(() => undefined);
    await rm(partial, { force: true });
  };
  return {
    async write(text) {
      try {
        await opened.writeFile(text);
        await opened.close();
        await rename(partial, file);
      } catch (error) {
        await discard();
        throw secretFileError(file, owner, error);
      }
    },
    discard,
  };
}

export const consoleClient: Command = {
  summary: "register a console's client at the development IdP, write its secret to a file and print its id",
  usage:
    'bulkhead console-client --secret-file FILE [--console-url http://127.0.0.1:8090] [--issuer URL] [--initial-access-token TOKEN] [--owner UID|none]\n' +
    '  --issuer defaults to BULKHEAD_ISSUER, --initial-access-token to BULKHEAD_IDP_INITIAL_ACCESS_TOKEN;\n' +
    `  the file is written 0400, owned by --owner (default ${COMPOSE_CONSOLE_UID}, the console's UID in deploy/compose/console.yml);\n` +
    '  prints BULKHEAD_CONSOLE_CLIENT_ID=<id> (append it to .env)',
  async run(args) {
    const { values } = parse(
      args,
      {
        'secret-file': { type: 'string' },
        'console-url': { type: 'string', default: 'http://127.0.0.1:8090' },
        issuer: { type: 'string' },
        'initial-access-token': { type: 'string' },
        owner: { type: 'string', default: String(COMPOSE_CONSOLE_UID) },
      },
      { positionals: false },
    );
    const file = required(values['secret-file'], '--secret-file FILE');
    const issuer = required(values.issuer ?? process.env.BULKHEAD_ISSUER, '--issuer (or BULKHEAD_ISSUER)');
    const initialAccessToken = required(
      values['initial-access-token'] ?? process.env.BULKHEAD_IDP_INITIAL_ACCESS_TOKEN,
      '--initial-access-token (or BULKHEAD_IDP_INITIAL_ACCESS_TOKEN)',
    );
    const consoleUrl = values['console-url'];
    for (const [flag, url] of [
      ['--issuer', issuer],
      ['--console-url', consoleUrl],
    ] as const)
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
        throw new UsageError(`${flag} ${url} is not an http(s) URL`);
    const owner = values.owner === 'none' ? undefined : Number(values.owner);
    if (!/^(\d+|none)$/.test(values.owner) || (owner !== undefined && !Number.isSafeInteger(owner)))
      throw new UsageError(`--owner ${values.owner} is not a UID (or none)`);
    const secretFile = await openSecretFile(file, owner);
    const client = await registerConsoleClient({
      issuer,
      initialAccessToken,
      consoleUrl,
      clientName: 'Bulkhead console',
    }).catch(async (error: Error) => {
      await secretFile.discard();
      // fetch's own "fetch failed" names neither the URL nor why: say both.
      const cause = error.cause as NodeJS.ErrnoException | undefined;
      if (error.message !== 'fetch failed') throw error;
      const why = cause?.code ?? cause?.message ?? 'no answer';
      throw new Error(`cannot reach the development IdP at ${issuer} (${why})`, { cause: error });
    });
    await secretFile.write(`${client.clientSecret}\n`);
    console.error(
      `registered the console at ${issuer} for ${consoleUrl}/auth/callback; its secret is in ${file}`,
    );
    console.log(`BULKHEAD_CONSOLE_CLIENT_ID=${client.clientId}`);
  },
};
