// The lifecycle controller's settings at the defaults declared in supervisor/config.ts, for tests
// and benchmarks that build a controller without a whole supervisor, and such a controller.
import { pino } from 'pino';
import { supervisorConfig } from '../../supervisor/config.ts';
import type {
  LifecycleSettings,
  RuntimeControllerOptions,
} from '../../supervisor/lifecycle/controller-parts.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';

export function lifecycleSettings(overrides: Partial<LifecycleSettings> = {}): LifecycleSettings {
  // The key file is the supervisor's to read; a controller is handed the key itself.
  return supervisorConfig.resolve({ routerPublicKeyFile: '-', ...overrides });
}

/**
 * A controller over an in-memory driver with what unit tests leave alone (a test image and key,
 * silent logs, runtimes that answer their probes, no waits for routers or drains), and `options`.
 */
export function memoryController(
  options: Pick<RuntimeControllerOptions, 'driver'> & Partial<RuntimeControllerOptions>,
  settings: Partial<LifecycleSettings> = {},
): RuntimeController {
  return new RuntimeController({
    image: 'bulkhead/runtime:test',
    routerPublicKey: 'PEM',
    logger: pino({ level: 'silent' }),
    probe: () => Promise.resolve(true),
    settings: lifecycleSettings({ healthTimeoutMs: 50, routeSettleMs: 0, drainSeconds: 0, ...settings }),
    ...options,
  });
}
