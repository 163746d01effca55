// Redis URLs to connection options: every part a URL may carry, and what is refused. The password
// never appears in an error or a printed URL.
import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redactRedisUrl, type RedisConnection } from '../../kernel/redis/connection.ts';
import { installation } from '../../kernel/tenant/installation.ts';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';

const PARSED: [string, RedisConnection][] = [
  ['redis://127.0.0.1:6379', { host: '127.0.0.1', port: 6379, db: 0 }],
  ['redis://redis', { host: 'redis', port: 6379, db: 0 }],
  ['redis://redis/', { host: 'redis', port: 6379, db: 0 }],
  ['redis://redis:6380/7', { host: 'redis', port: 6380, db: 7 }],
  ['redis://:secret@redis/2', { host: 'redis', port: 6379, db: 2, password: 'secret' }],
  [
    'redis://bulkhead:secret@redis:6379/0',
    { host: 'redis', port: 6379, db: 0, username: 'bulkhead', password: 'secret' },
  ],
  ['redis://bulkhead@redis', { host: 'redis', port: 6379, db: 0, username: 'bulkhead' }],
  // Percent-encoded: every character a password may hold.
  [
    'redis://us%40er:p%40ss%3Aw%2Frd%25%20%23%3F@redis/1',
    { host: 'redis', port: 6379, db: 1, username: 'us@er', password: 'p@ss:w/rd% #?' },
  ],
  ['redis://[::1]:7000/3', { host: '::1', port: 7000, db: 3 }],
  [
    'rediss://:secret@redis.example.com:6380/4',
    {
      host: 'redis.example.com',
      port: 6380,
      db: 4,
      password: 'secret',
      tls: { servername: 'redis.example.com' },
    },
  ],
  ['rediss://127.0.0.1', { host: '127.0.0.1', port: 6379, db: 0, tls: {} }],
  ['rediss://[::1]:6390', { host: '::1', port: 6390, db: 0, tls: {} }],
  ['unix:///run/redis/redis.sock', { path: '/run/redis/redis.sock', db: 0 }],
  ['unix:///run/redis/redis.sock?db=5', { path: '/run/redis/redis.sock', db: 5 }],
  [
    'unix://bulkhead:p%40ss@localhost/var/run/redis%20x.sock?db=2',
    { path: '/var/run/redis x.sock', username: 'bulkhead', password: 'p@ss', db: 2 },
  ],
];

const REFUSED: [string, RegExp][] = [
  ['http://redis:6379', /unsupported scheme http:/],
  ['redis:///3', /no host/],
  ['redis://redis/db1', /"\/db1" is not a database number/],
  ['redis://redis/1/2', /is not a database number/],
  ['redis://redis/123456', /is not a database number/],
  ['redis://redis?db=2', /query parameters/],
  ['redis://redis#x', /fragments/],
  ['redis://:%E0%A4%A@redis', /password is not valid percent-encoding/],
  ['redis://:hunter2@redis:99999', /does not parse/],
  ['not a url hunter2', /does not parse/],
  ['unix://:hunter2@redis/run/redis.sock', /"redis" is not localhost/],
  ['unix://:hunter2@localhost:6379/run/redis.sock', /has no port/],
  ['unix://', /no socket path/],
  ['unix:///run/redis/', /no socket path/],
  ['unix:///run/redis.sock?db=x', /only query parameter .* is db=N/],
  ['unix:///run/redis.sock?db=1&password=hunter2', /only query parameter/],
  ['unix:///run/redis.sock#x', /fragments/],
];

describe('Redis URL', () => {
  it.each(PARSED)('parses %s', (url, expected) => {
    expect(parseRedisUrl(url)).toStrictEqual(expected);
  });

  it.each(REFUSED)('refuses %s as invalid configuration, without the password', (url, message) => {
    let thrown: unknown;
    try {
      parseRedisUrl(url);
    } catch (error) {
      thrown = error;
    }
    expect(isBulkheadError(thrown, 'invalid_config')).toBe(true);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain('hunter2');
    expect((thrown as Error).message).not.toContain('%E0');
  });

  it('redacts the password, and only the password, for printing', () => {
    expect(redactRedisUrl('redis://bulkhead:hunter2@redis:6379/2')).toBe('redis://bulkhead:***@redis:6379/2');
    expect(redactRedisUrl('rediss://:p%40ss@redis/1')).toBe('rediss://:***@redis/1');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactRedisUrl('redis://bulkhead@redis')).toBe('redis://bulkhead@redis');
    expect(redactRedisUrl('hunter2 is no url')).not.toContain('hunter2');
    expect(redactRedisUrl('unix://u:hunter2@localhost/r.sock?db=1&password=hunter2')).toBe(
      'unix://u:***@localhost/r.sock?db=1&password=***',
    );
  });

  it('gives the installation its connection and key prefixes', () => {
    expect(installation({ namespace: 'acme', redisUrl: 'rediss://:pw@redis.internal/5' })).toStrictEqual({
      namespace: 'acme',
      redis: {
        host: 'redis.internal',
        port: 6379,
        db: 5,
        password: 'pw',
        tls: { servername: 'redis.internal' },
      },
      registryPrefix: 'bulkhead:acme',
      jobsPrefix: 'bulkhead:acme:jobs',
    });
  });
});
