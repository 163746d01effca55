// A rollout ledger (supervisor/lifecycle/rollout-ledger.ts) in this process's memory, as a restarted
// supervisor would find the Redis one: the maps are the test's to read and to fill beforehand.
import type { Probation, RolloutLedger } from '../../../supervisor/lifecycle/rollout-ledger.ts';

export function memoryLedger() {
  const kept = new Map<string, string>();
  const watched = new Map<string, Probation>();
  const ledger: RolloutLedger = {
    load: () => Promise.resolve({ failed: new Map(kept), probation: new Map(watched) }),
    setFailed: (tenantId, specHash) => Promise.resolve(void kept.set(tenantId, specHash)),
    deleteFailed: (tenantId) => Promise.resolve(void kept.delete(tenantId)),
    setProbation: (tenantId, probation) => Promise.resolve(void watched.set(tenantId, probation)),
    deleteProbation: (tenantId) => Promise.resolve(void watched.delete(tenantId)),
  };
  return { ledger, kept, watched };
}
