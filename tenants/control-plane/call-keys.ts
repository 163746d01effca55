// The installation's Ed25519 key pairs that tenant containers verify: the router's call-assertion
// pair (the router signs calls with the private key; a container refuses unsigned calls) and the
// egress gateway's (it signs each bridge's challenge; a container's bridge uses no connection to its
// socket without that proof). The supervisor hands both public keys to each tenant container.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CallKeyFiles {
  privateKeyFile: string;
  publicKeyFile: string;
}

export function callKeyFiles(dir: string): CallKeyFiles {
  return { privateKeyFile: join(dir, 'call-assertion.key'), publicKeyFile: join(dir, 'call-assertion.pub') };
}

export function egressKeyFiles(dir: string): CallKeyFiles {
  return { privateKeyFile: join(dir, 'egress-gateway.key'), publicKeyFile: join(dir, 'egress-gateway.pub') };
}

/**
 * Creates each key pair in `dir` that is not already there (a directory from before the egress pair
 * gets it added); returns the file paths, the router's pair at the top level.
 */
export async function ensureCallKeys(
  dir: string,
): Promise<CallKeyFiles & { egress: CallKeyFiles; created: boolean }> {
  const files = callKeyFiles(dir);
  const egress = egressKeyFiles(dir);
  let created = false;
  for (const pair of [files, egress]) {
    if (existsSync(pair.privateKeyFile) && existsSync(pair.publicKeyFile)) continue;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeEd25519Pair(pair);
    created = true;
  }
  return { ...files, egress, created };
}

/** A new Ed25519 pair: the private key PKCS#8 PEM (0600), the public key SPKI PEM (0644). */
export async function writeEd25519Pair(files: CallKeyFiles): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(files.privateKeyFile, privateKey, { mode: 0o600 });
  await chmod(files.privateKeyFile, 0o600);
  await writeFile(files.publicKeyFile, publicKey, { mode: 0o644 });
}
