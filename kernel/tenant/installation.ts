// Names every process of one installation must agree on. A namespace separates installations
// (and test runs) that share one Docker engine and one Redis.
import { NamespaceSchema } from '../config/common.ts';

export interface Installation {
  namespace: string;
  redis: { host: string; port: number };
  /** Redis key prefix of the tenant registry. */
  registryPrefix: string;
  /** BullMQ key prefix of the runtime jobs. */
  jobsPrefix: string;
}

export function installation(options: { namespace: string; redisUrl: string }): Installation {
  const namespace = NamespaceSchema.parse(options.namespace);
  const url = new URL(options.redisUrl);
  if (url.protocol !== 'redis:')
    throw new Error(`unsupported Redis URL ${options.redisUrl}: use redis://host:port`);
  return {
    namespace,
    redis: { host: url.hostname, port: Number(url.port || 6379) },
    registryPrefix: `bulkhead:${namespace}`,
    jobsPrefix: `bulkhead:${namespace}:jobs`,
  };
}
