// Values of tenants' credentials (downstream tokens, pack secrets). The registry holds only
// references (`secret://<tenant>/<NAME>`); the values live here, encrypted at rest in Redis with
// AES-256-GCM under a key from a root-only key file, and are destroyed at offboarding. In the kernel
// because three processes open it: the control plane writes, the egress gateway and the supervisor
// (delivering pack secrets) read.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Redis } from 'ioredis';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { secretsKey } from '../../kernel/redis/keys.ts';
import { openText, sealText } from './aead.ts';

const KEY_BYTES = 32;

/** Reads the store key; undefined when the file does not exist (yet). */
export async function readSecretKey(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES)
    throw new BulkheadError('invalid_config', `secret key file ${file} does not hold a 256-bit key`);
  return key;
}

/** Reads the store key, creating it (mode 0600) on first use. */
export async function loadSecretKey(file: string): Promise<Buffer> {
  const existing = await readSecretKey(file);
  if (existing) return existing;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  await writeFile(file, key.toString('base64'), { mode: 0o600, flag: 'wx' });
  return key;
}

/**
 * The store once its key exists, for a reader that may start before the operator CLI creates the
 * key on its first use (the egress gateway, the supervisor).
 */
export function secretStoreOnceKeyed(options: {
  file: string;
  redis: Redis;
  prefix: string;
}): () => Promise<SecretStore | undefined> {
  let store: SecretStore | undefined;
  return async () => {
    if (store) return store;
    const key = await readSecretKey(options.file);
    if (key) store = new SecretStore({ redis: options.redis, prefix: options.prefix, key });
    return store;
  };
}

export function secretRef(tenant: string, name: string): string {
  return `secret://${tenant}/${name}`;
}

export class SecretStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly key: Buffer;

  constructor(options: { redis: Redis; prefix: string; key: Buffer }) {
    if (options.key.length !== KEY_BYTES)
      throw new BulkheadError('invalid_config', 'SecretStore needs a 256-bit key');
    this.redis = options.redis;
    this.prefix = options.prefix;
    this.key = options.key;
  }

  private hashKey(tenant: string): string {
    return secretsKey(this.prefix, tenant);
  }

  /**
   * `value` encrypted for the slot `name` of `tenant`, as stored: for a writer that stores it in the
   * same script as the record's update (TenantRegistry.update, `secret`).
   */
  seal(tenant: string, name: string, value: string): string {
    // The tenant and name are authenticated data: a value cannot be moved to another slot unnoticed.
    return sealText(this.key, `${tenant}/${name}`, value).toString('base64');
  }

  async put(tenant: string, name: string, value: string): Promise<string> {
    await this.redis.hset(this.hashKey(tenant), name, this.seal(tenant, name, value));
    return secretRef(tenant, name);
  }

  async get(tenant: string, name: string): Promise<string | undefined> {
    const stored = await this.redis.hget(this.hashKey(tenant), name);
    if (!stored) return undefined;
    return openText(this.key, `${tenant}/${name}`, Buffer.from(stored, 'base64'));
  }

  async names(tenant: string): Promise<string[]> {
    return (await this.redis.hkeys(this.hashKey(tenant))).sort();
  }

  /** Destroys every secret of the tenant; returns the names destroyed. */
  async destroyAll(tenant: string): Promise<string[]> {
    const names = await this.names(tenant);
    await this.redis.del(this.hashKey(tenant));
    return names;
  }
}
