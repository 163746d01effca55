// The listen streams' bus on its own (router/mcp/tenant-listeners.ts): a stream is its opening
// request's tenant's, across the awaits of that request; a change reaches only the streams of the
// tenants it names; the broadcast the SDK's `notify` sugar would send, and a stream opened outside
// any tenant's request, are refused and reported. Through the real router: list-changed-tenants.test.ts.
import type { ServerEvent } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { TenantListeners } from '../../router/mcp/tenant-listeners.ts';

const CHANGED: ServerEvent = { kind: 'tools_list_changed' };

function bus() {
  const errors: string[] = [];
  const heard: string[] = [];
  const listeners = new TenantListeners((error) => errors.push(error.message));
  /** Opens a stream as the SDK does: from inside the request, after its own awaits. */
  const open = (tenant: string, name: string) =>
    listeners.serving(tenant, async () => {
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
    listeners.serving('a', () =>
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
});
