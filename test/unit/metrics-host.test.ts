// The address a /metrics listener binds: an IP literal, loopback unless configured. Anything else
// (a host name, an address with a port or a path) is refused when the process reads its settings.
import { describe, expect, it } from 'vitest';
import { routerConfig } from '../../router/config.ts';
import { supervisorConfig } from '../../supervisor/config.ts';

const fields = [
  ['router', routerConfig.fields.metricsHost],
  ['supervisor', supervisorConfig.fields.metricsHost],
] as const;

describe.each(fields)('the %s metrics host', (_name, field) => {
  it('is loopback by default', () => {
    expect(field.schema.parse(undefined)).toBe('127.0.0.1');
  });

  it.each(['0.0.0.0', '127.0.0.1', '10.1.2.3', '::', '::1'])('takes %s', (address) => {
    expect(field.schema.parse(address)).toBe(address);
  });

  it.each(['localhost', 'router', '0.0.0.0:9464', '127.0.0.1/metrics', '256.0.0.1', ''])(
    'refuses %j',
    (address) => {
      expect(() => field.schema.parse(address)).toThrow();
    },
  );
});

it('names each process its own variable', () => {
  expect(routerConfig.fields.metricsHost.env).toBe('BULKHEAD_ROUTER_METRICS_HOST');
  expect(supervisorConfig.fields.metricsHost.env).toBe('BULKHEAD_METRICS_HOST');
});
