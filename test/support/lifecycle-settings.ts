// The lifecycle controller's settings at the defaults declared in supervisor/config.ts, for tests
// and benchmarks that build a controller without a whole supervisor.
import { supervisorConfig } from '../../supervisor/config.ts';
import type { LifecycleSettings } from '../../supervisor/lifecycle/controller-parts.ts';

export function lifecycleSettings(overrides: Partial<LifecycleSettings> = {}): LifecycleSettings {
  // The key file is the supervisor's to read; a controller is handed the key itself.
  return supervisorConfig.resolve({ routerPublicKeyFile: '-', ...overrides });
}
