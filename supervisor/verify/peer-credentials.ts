// The connected peer's credentials (SO_PEERCRED) of a tenant's runtime socket, for `verify`. Node
// has no API for SO_PEERCRED, so a few lines of Perl (perl-base is Essential on Debian: on every
// Debian host and in the node base image) make the same checked connection as the runtime socket
// connector (client/runtime-socket.ts): open with O_PATH | O_NOFOLLOW, require a socket owned by the
// expected UID (refuse, without connecting, otherwise), connect through /proc/self/fd, then read
// the peer's pid, uid and gid. Evidence only: the router's connections need no peer check, since
// the socket's owner already identifies who bound it (see docs/security.md).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { UnixEndpoint } from '../client/runtime-socket.ts';

const PEER_SCRIPT = `
use strict; use Socket; use Fcntl; use Fcntl ':mode';
my ($path, $uid) = @ARGV;
sysopen(my $h, $path, 010000000 | O_NOFOLLOW) or do { print qq({"refused":"open: $!"}); exit 0 };
my @st = stat($h);
if (!S_ISSOCK($st[2]) || $st[4] != $uid) { print qq({"refused":"not a socket of uid $uid"}); exit 0 }
socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_un("/proc/self/fd/" . fileno($h))) or do { print qq({"refused":"connect: $!"}); exit 0 };
my ($pid, $puid, $pgid) = unpack('lll', getsockopt($s, SOL_SOCKET, SO_PEERCRED));
print qq({"pid":$pid,"uid":$puid,"gid":$pgid});
`;

export type PeerCredentials =
  { pid: number; uid: number; gid: number; command: string | undefined } | { refused: string };

/** The peer's credentials, or why no connection was made (or perl could not run). */
export async function readPeerCredentials(
  endpoint: UnixEndpoint,
  timeoutMs = 2_000,
): Promise<PeerCredentials> {
  const stdout = await new Promise<string>((resolve) => {
    execFile(
      'perl',
      ['-e', PEER_SCRIPT, endpoint.socketPath, String(endpoint.uid)],
      { timeout: timeoutMs },
      (error, out) => resolve(error ? JSON.stringify({ refused: `perl: ${error.message}` }) : out),
    );
  });
  const seen = JSON.parse(stdout) as { refused: string } | { pid: number; uid: number; gid: number };
  if ('refused' in seen) return seen;
  // The peer's command line, when its process is visible from here (pid 0: another PID namespace).
  const command =
    seen.pid > 0
      ? await readFile(`/proc/${seen.pid}/cmdline`, 'utf8').then(
          (text) => text.split('\0').join(' ').trim(),
          () => undefined,
        )
      : undefined;
  return { ...seen, command };
}
