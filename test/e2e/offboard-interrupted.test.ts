// An offboarding stopped after the tenant's record is gone (the operator's terminal closed, the
// process killed) cannot be run again: `offboard` no longer knows the tenant. What it had not done
// by then must not outlive the tenant: its audit trail left in Redis (all of it where no signing
// key sealed it) gets its retention's expiry as soon as the record is deleted, not only after the
// wait for the routers' cached record that follows.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { auditStreamKey } from '../../kernel/redis/keys.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let redis: Redis;

/** Runs `offboard <id> --yes` and kills it (SIGKILL) once it prints a line matching `at`. */
function offboardKilledAt(id: string, at: RegExp): Promise<{ stdout: string; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['tenants/cli/main.ts', 'offboard', id, '--yes'], {
      env: { ...process.env, BULKHEAD_NAMESPACE: stack.ns.namespace, BULKHEAD_DEV_DIR: stack.ns.runDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (at.test(stdout)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ stdout, signal }));
  });
}

beforeAll(async () => {
  stack = await startTestStack('offkill');
  redis = new Redis(stack.ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe('an offboarding killed after the record is deleted', () => {
  it('leaves no audit trail in Redis without its expiry', async () => {
    await stack.onboard('acme');
    const audit = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
    await audit.append({
      tenant: 'acme',
      user: 'alice',
      agent: null,
      tool: 'whoami',
      decision: 'permit',
      reason: 'test',
    });
    const killed = await offboardKilledAt('acme', /waiting for the routers' cached record to lapse/);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toMatch(/Receipt/);
    expect(await stack.registry.get('acme')).toBeUndefined();
    // Run again, the offboarding knows no such tenant: nothing else will set the expiry.
    const ttl = await redis.ttl(auditStreamKey(stack.ns.installation.registryPrefix, 'acme'));
    expect(ttl).toBeGreaterThan(0);
  });
});
