// The listen streams' bus on its own (router/mcp/tenant-listeners.ts): a stream is its opening
// request's tenant's, across the awaits of that request; a change reaches only the streams of the
// tenants it names; the broadcast the SDK's `notify` sugar would send, and a stream opened outside
// any tenant's request, are refused and reported; the streams of a tenant gone (offboarded, or
// onboarded again under its id) are told nothing more, those of the later tenant of the id still
// are. Through the real router: list-changed-tenants.test.ts.
import type { ServerEvent } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { TenantListeners } from '../../router/mcp/tenant-listeners.ts';

const CHANGED: ServerEvent = { kind: 'tools_list_changed' };

function bus() {
  const errors: string[] = [];
  const heard: string[] = [];
  const listeners = new TenantListeners((error) => errors.push(error.message));
  /** Opens a stream as the SDK does: from inside the request, after its own awaits. */
  const open = (tenant: string, name: string, createdAt = 'first') =>
    listeners.serving(tenant, createdAt, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return listeners.subscribe(() => heard.push(name));
    });
  return { listeners, errors, heard, open };
}

describe('TenantListeners', () => {
  it('tells a change only to the streams of the tenants it names, until a stream closes', async () => {
    const { listeners, heard, open, errors } = bus();
    const [a1, , b] = await Promise.all([open('a', 'a1'), open('a', 'a2'), open('b', 'b')]);
    listeners.publishTo(['a'], CHANGED);
    expect(heard.sort()).toEqual(['a1', 'a2']);
    heard.length = 0;
    a1();
    b();
    listeners.publishTo(['a', 'b', 'c'], CHANGED);
    expect(heard).toEqual(['a2']);
    expect(errors).toEqual([]);
  });

  it('refuses a broadcast and a stream of no tenant, and goes on past a stream that throws', async () => {
    const { listeners, heard, open, errors } = bus();
    await open('a', 'a');
    listeners.publish(CHANGED);
    listeners.subscribe(() => heard.push('nobody'));
    listeners.serving('a', 'first', () =>
      listeners.subscribe(() => {
        throw new Error('stream gone');
      }),
    );
    listeners.publishTo(['a'], CHANGED);
    expect(heard).toEqual(['a']);
    expect(errors).toEqual([
      'a tools_list_changed event for no tenant in particular was not sent',
      'a subscriptions/listen stream of no tenant gets no change notifications',
      'stream gone',
    ]);
  });

  it('tells nothing more to the streams of a tenant gone, and goes on telling a later one of the id', async () => {
    const { listeners, heard, open, errors } = bus();
    const [, , earlier] = await Promise.all([open('a', 'a-first'), open('b', 'b'), open('a', 'a-first-2')]);
    // Onboarded again under the id before the watcher's pass: its client listens already.
    await open('a', 'a-second', 'second');
    listeners.forget('a', 'first');
    listeners.publishTo(['a', 'b'], CHANGED);
    expect(heard.sort()).toEqual(['a-second', 'b']);
    expect(listeners.count('a')).toBe(1);
    // A forgotten stream whose client goes later leaves the later tenant's streams as they are.
    earlier();
    heard.length = 0;
    listeners.publishTo(['a'], CHANGED);
    expect(heard).toEqual(['a-second']);
    listeners.forget('a', 'second');
    expect(listeners.count('a')).toBe(0);
    expect(errors).toEqual([]);
  });
});
