// What the supervisor hands the router for a tenant: an endpoint, not a socket path, so that a
// cluster driver can later return a network address reached with the same call assertion.
import { join } from 'node:path';
import { z } from 'zod';

export const RuntimeEndpointSchema = z.discriminatedUnion('kind', [
  // `uid`: who must own the socket inode (the tenant's UID): every connection checks it on the
  // exact inode it connects to (supervisor/client/runtime-socket.ts).
  z.strictObject({ kind: z.literal('unix'), socketPath: z.string().min(1), uid: z.number().int().min(0) }),
  z.strictObject({ kind: z.literal('http'), url: z.url() }),
]);
export type RuntimeEndpoint = z.infer<typeof RuntimeEndpointSchema>;

/** Where a tenant container listens, inside the container. */
export { CONTAINER_DATA_DIR, CONTAINER_SOCKET_DIR, CONTAINER_SOCKET_NAME } from './container-paths.ts';

/** The host directory of a tenant's sockets, bind-mounted at CONTAINER_SOCKET_DIR in its container only. */
export function tenantSocketDir(runDir: string, namespace: string, tenantId: string): string {
  return join(runDir, namespace, tenantId);
}
