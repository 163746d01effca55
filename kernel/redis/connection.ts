// One Redis URL, parsed once into the connection options every client takes: ioredis (`new
// Redis(connection)`) and BullMQ (`connection: { ...connection, maxRetriesPerRequest: null }`).
//   redis://[user[:password]@]host[:port][/db]     plain TCP
//   rediss://[user[:password]@]host[:port][/db]    TLS, verified against the system's CAs (and
//                                                  NODE_EXTRA_CA_CERTS), the host name checked
// User and password are percent-decoded (a password may hold any character). Anything else in
// the URL (a query, a fragment, a path that is not a database number) is refused rather than
// silently ignored. The password never appears in an error: `redactRedisUrl` is for printing.
import { isIP } from 'node:net';
import { BulkheadError } from '../errors/bulkhead-error.ts';

export interface RedisConnection {
  host: string;
  port: number;
  /** ACL user (Redis 6+); absent: the default user. */
  username?: string;
  password?: string;
  /** Logical database (SELECT); 0 unless the URL's path names another. */
  db: number;
  /** Present for rediss: URLs. `servername` (SNI) is set for host names, not for IP literals. */
  tls?: { servername?: string };
}

const DEFAULT_PORT = 6379;

/** `url` with its password replaced by `***`, for messages and logs. */
export function redactRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(a Redis URL that does not parse)';
  }
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}

function invalid(url: string, problem: string): BulkheadError<'invalid_config'> {
  return new BulkheadError('invalid_config', `Redis URL ${redactRedisUrl(url)}: ${problem}`);
}

function decoded(url: string, part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(url, `the ${what} is not valid percent-encoding`);
  }
}

export function parseRedisUrl(url: string): RedisConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BulkheadError(
      'invalid_config',
      'Redis URL does not parse: use redis://[user:password@]host[:port][/db] or rediss://...',
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw invalid(url, `unsupported scheme ${parsed.protocol}: use redis:// or rediss:// (TLS)`);
  if (!parsed.hostname) throw invalid(url, 'no host');
  if (parsed.search || parsed.hash) throw invalid(url, 'query parameters and fragments are not supported');
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw invalid(url, `"/${path}" is not a database number`);
  // An IPv6 literal comes back in brackets, which the socket layer does not take.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const connection: RedisConnection = {
    host,
    port: parsed.port ? Number(parsed.port) : DEFAULT_PORT,
    db: path === '' ? 0 : Number(path),
  };
  if (parsed.username) connection.username = decoded(url, parsed.username, 'user name');
  if (parsed.password) connection.password = decoded(url, parsed.password, 'password');
  // Node refuses SNI for IP literals (RFC 6066); the certificate is still checked against the IP.
  if (parsed.protocol === 'rediss:') connection.tls = isIP(host) === 0 ? { servername: host } : {};
  return connection;
}
