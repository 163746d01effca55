// A call that took its tenant's route just before another call renewed it (the runtime epoch moved:
// a recycle, pause or stop) must neither fail nor run twice. The renewing call drops the old route
// and closes its agent; the first call then meets the closed agent, which undici refuses before
// sending anything, so the call is retried once on the renewed route. And the first call's failure
// must not drop the renewed route that other calls are waiting on. A scripted runtime on a real
// unix socket, the real dispatcher and signer; stand-ins only at our own ports (the RuntimeLocator
// and the RuntimeStateView, whose epoch the test moves).
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import { startScriptedRuntime, textResult, type ScriptedRuntime } from '../support/scripted-runtime.ts';

let runtime: ScriptedRuntime;
/** The `who` of every tools/call the runtime received, in order. */
const received: string[] = [];

beforeAll(async () => {
  runtime = await startScriptedRuntime(({ message }, res) => {
    const { who } = message.params.arguments as { who: string };
    received.push(who);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${JSON.stringify(textResult(message.id, `ran ${who}`))}\n\n`);
  });
});

afterAll(async () => {
  await runtime.close();
});

describe('a route renewed while a call holds the old one', () => {
  it('runs the holding call once, on the renewed route, and keeps the renewed route', async () => {
    const keys = generateKeyPairSync('ed25519');
    const realSign = await createCallSigner(
      keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    const { endpoint } = runtime;
    let epoch = 0;
    let ensured = 0;
    // The signer runs after the call took its route and before it is sent: holding it there is
    // holding the call between the two.
    let hold: Promise<void> | undefined;
    let holding = (): void => undefined;
    let release = (): void => undefined;
    const d = new TenantDispatcher({
      runtimes: {
        ensure: () => Promise.reject(new Error('the dispatcher asks for ensureRuntime')),
        ensureRuntime: () => {
          ensured++;
          return Promise.resolve({ endpoint, epoch, runtimeId: `runtime-${ensured}` });
        },
      },
      stateView: { touch: () => Promise.resolve(epoch) },
      routeFreshnessMs: 0,
      sign: async (context, body) => {
        const waiting = hold;
        hold = undefined;
        if (waiting) {
          holding();
          await waiting;
        }
        return realSign(context, body);
      },
      logger: pino({ level: 'silent' }),
      callTimeoutMs: 5_000,
    });
    const context: CallContext = { tenant: 'acme', user: null, agent: 'agent-1', scopes: ['records:write'] };
    const call = (who: string) => d.callTool(context, 'records_create', { who });

    expect((await call('warm-up')).content).toEqual([{ type: 'text', text: 'ran warm-up' }]);
    hold = new Promise<void>((resolve) => (release = resolve));
    const held = new Promise<void>((resolve) => (holding = resolve));
    const first = call('first');
    await held; // the first call has its route (epoch 0) and is about to send on it
    epoch = 1; // the runtime is replaced: the next call renews the route and drops the old one
    expect((await call('second')).content).toEqual([{ type: 'text', text: 'ran second' }]);
    release();
    expect((await first).content).toEqual([{ type: 'text', text: 'ran first' }]);
    expect(received).toEqual(['warm-up', 'second', 'first']);
    // Two ensures: the first route and its renewal. The first call's refused attempt dropped no
    // route (it had been renewed already), so the retry and the next call use the renewed one.
    expect((await call('third')).content).toEqual([{ type: 'text', text: 'ran third' }]);
    expect(ensured).toBe(2);
    await d.close();
  });
});
