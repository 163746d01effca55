// The packs' secrets for a runtime about to start, handed over as a file in its socket directory
// (docs/packs.md, "Secrets"): the runtime reads it once and removes it.
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PACK_SECRETS_FILE, type PackSecrets } from '../../kernel/packs/enabled-packs.ts';
import { removeEntry } from './remove-tree.ts';

/** Where a tenant's secrets file goes: its socket directory, which the runtime mounts at /run/mcp. */
export function secretsFile(socketDir: string): string {
  return join(socketDir, basename(PACK_SECRETS_FILE));
}

/**
 * The packs' secrets for the process about to start: 0400, the tenant's UID. Whatever is there
 * first (a file left over, or a symlink a compromised runtime planted) is removed without being
 * followed, and the new file is created exclusively, so the write cannot land anywhere else.
 */
export async function deliverSecrets(socketDir: string, uid: number, secrets: PackSecrets): Promise<void> {
  const file = secretsFile(socketDir);
  await removeEntry(file);
  if (Object.values(secrets).every((values) => Object.keys(values).length === 0)) return;
  const handle = await open(file, 'wx', 0o400);
  try {
    await handle.chown(uid, uid);
    await handle.chmod(0o400);
    await handle.writeFile(JSON.stringify(secrets));
  } finally {
    await handle.close();
  }
}
