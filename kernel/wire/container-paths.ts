// Where a tenant container listens and keeps its data, inside the container: plain constants
// without zod, so the runtime image's small entry can read them before loading the runtime
// (runtime-image/src/packs/reference-prestart.ts). Re-exported by runtime-endpoint.ts.
export const CONTAINER_SOCKET_DIR = '/run/mcp';
export const CONTAINER_SOCKET_NAME = 'mcp.sock';
export const CONTAINER_DATA_DIR = '/data';
