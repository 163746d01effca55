// One Redis URL, parsed once into the connection options every client takes: ioredis (`new
// Redis(connection)`) and BullMQ (`connection: { ...connection, maxRetriesPerRequest: null }`).
//   redis://[user[:password]@]host[:port][/db]     plain TCP
//   rediss://[user[:password]@]host[:port][/db]    TLS, verified against the system's CAs (and
//                                                  NODE_EXTRA_CA_CERTS), the host name checked
//   unix://[user[:password]@localhost]/path[?db=N]  Redis's unix socket on this host (`unixsocket`):
//                                                  no TCP stack on either side, for processes that
//                                                  can open the socket (docs/operations.md)
// User and password are percent-decoded (a password may hold any character). Anything else in
// the URL (a query other than a socket's `db`, a fragment, a path that is not a database number)
// is refused rather than silently ignored. The password never appears in an error:
// `redactRedisUrl` is for printing.
import { isIP } from 'node:net';
import { BulkheadError } from '../errors/bulkhead-error.ts';

interface RedisLogin {
  /** ACL user (Redis 6+); absent: the default user. */
  username?: string;
  password?: string;
  /** Logical database (SELECT); 0 unless the URL names another. */
  db: number;
}

/** Over TCP (redis:, rediss:). */
export interface RedisTcpConnection extends RedisLogin {
  host: string;
  port: number;
  /** Present for rediss: URLs. `servername` (SNI) is set for host names, not for IP literals. */
  tls?: { servername?: string };
}

/** Over Redis's unix socket (unix:): ioredis connects to `path`. */
export interface RedisSocketConnection extends RedisLogin {
  path: string;
}

export type RedisConnection = RedisTcpConnection | RedisSocketConnection;

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
  // A query is refused but for a socket's db; a password put there anyway is not printed either.
  for (const name of new Set(parsed.searchParams.keys()))
    if (name !== 'db') parsed.searchParams.set(name, '***');
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

const USAGE =
  'use redis://[user:password@]host[:port][/db], rediss://... (TLS) or unix:///path/to/redis.sock[?db=N]';

export function parseRedisUrl(url: string): RedisConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BulkheadError('invalid_config', `Redis URL does not parse: ${USAGE}`);
  }
  if (parsed.hash) throw invalid(url, 'fragments are not supported');
  const login: RedisLogin = { db: 0 };
  if (parsed.username) login.username = decoded(url, parsed.username, 'user name');
  if (parsed.password) login.password = decoded(url, parsed.password, 'password');
  if (parsed.protocol === 'unix:') return socketConnection(url, parsed, login);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw invalid(url, `unsupported scheme ${parsed.protocol}: ${USAGE}`);
  if (!parsed.hostname) throw invalid(url, 'no host');
  if (parsed.search) throw invalid(url, 'query parameters are not supported');
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw invalid(url, `"/${path}" is not a database number`);
  // An IPv6 literal comes back in brackets, which the socket layer does not take.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const connection: RedisTcpConnection = {
    host,
    port: parsed.port ? Number(parsed.port) : DEFAULT_PORT,
    ...login,
    db: path === '' ? 0 : Number(path),
  };
  // Node refuses SNI for IP literals (RFC 6066); the certificate is still checked against the IP.
  if (parsed.protocol === 'rediss:') connection.tls = isIP(host) === 0 ? { servername: host } : {};
  return connection;
}

/**
 * unix:///path/to/redis.sock[?db=N]: the host empty, or `localhost` when the URL carries a user or
 * password (a URL's credentials need a host); the socket's path absolute, as Redis's `unixsocket`.
 */
function socketConnection(url: string, parsed: URL, login: RedisLogin): RedisSocketConnection {
  if (parsed.hostname !== '' && parsed.hostname !== 'localhost')
    throw invalid(url, `a unix socket is on this host: "${parsed.hostname}" is not localhost`);
  if (parsed.port) throw invalid(url, 'a unix socket has no port');
  const path = decoded(url, parsed.pathname, 'socket path');
  if (!path.startsWith('/') || path.endsWith('/')) throw invalid(url, 'no socket path');
  const query = [...parsed.searchParams];
  const [name, value] = query[0] ?? ['db', '0'];
  if (query.length > 1 || name !== 'db' || !/^\d{1,5}$/.test(value))
    throw invalid(url, 'the only query parameter of a unix socket URL is db=N (a database number)');
  return { path, ...login, db: Number(value) };
}
