// Names every process of one installation must agree on. A namespace separates installations
// (and test runs) that share one Docker engine and one Redis.
import { NamespaceSchema } from '../config/common.ts';
import { parseRedisUrl, type RedisConnection } from '../redis/connection.ts';
import { installationPrefix, jobsPrefix } from '../redis/keys.ts';

export interface Installation {
  namespace: string;
  /** How every ioredis and BullMQ client of this installation connects (from the Redis URL). */
  redis: RedisConnection;
  /** Redis key prefix of the tenant registry. */
  registryPrefix: string;
  /** BullMQ key prefix of the runtime jobs. */
  jobsPrefix: string;
}

export function installation(options: { namespace: string; redisUrl: string }): Installation {
  const namespace = NamespaceSchema.parse(options.namespace);
  return {
    namespace,
    redis: parseRedisUrl(options.redisUrl),
    registryPrefix: installationPrefix(namespace),
    jobsPrefix: jobsPrefix(namespace),
  };
}
