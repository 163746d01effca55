// Runs the reference pack's early start when imported (runtime-entry.ts imports it first). Any
// failure here is left to the runtime's own start, which makes the same steps and reports them.
import { prestartReferencePack } from './reference-prestart.ts';

try {
  prestartReferencePack();
} catch {
  // The runtime's start repeats the step that threw and fails, or not, as it always did.
}
