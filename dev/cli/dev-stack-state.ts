// What `bulkhead up` leaves for `bulkhead token`: where the development stack runs and the
// development-only secrets it needs (never used outside the embedded IdP).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const DevStackSchema = z.object({
  issuer: z.string(),
  routerUrl: z.string(),
  resourceUrl: z.string(),
  initialAccessToken: z.string(),
  /** Per tenant, its agent and the scopes it was registered for (the router's, at the time). */
  agents: z.record(
    z.string(),
    z.object({ clientId: z.string(), clientSecret: z.string(), scopes: z.array(z.string()).default([]) }),
  ),
  /** The development IdP's accounts (what `bulkhead up --users` configured). */
  users: z.array(z.object({ id: z.string(), tenant: z.string(), roles: z.array(z.string()) })).default([]),
  /** Per tenant, the public PKCE client the CLI signs users in through. */
  apps: z.record(z.string(), z.object({ clientId: z.string() })).default({}),
});
export type DevStack = z.output<typeof DevStackSchema>;

const file = (devDir: string): string => join(devDir, 'dev-stack.json');

export async function readDevStack(devDir: string): Promise<DevStack> {
  if (!existsSync(file(devDir))) {
    throw new Error(`no development stack found in ${devDir}: start one with "npm start" (bulkhead up)`);
  }
  return DevStackSchema.parse(JSON.parse(await readFile(file(devDir), 'utf8')));
}

export async function writeDevStack(devDir: string, stack: DevStack): Promise<void> {
  await mkdir(devDir, { recursive: true, mode: 0o700 });
  await writeFile(file(devDir), `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
}
