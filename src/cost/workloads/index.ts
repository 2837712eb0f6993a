import type { CostWorkload } from '../workload';
import { forkPinnedPteMappedThp, forkPteMappedThp } from './fork';
import { freePageTables } from './tables';
import { gupPinPmdThp, gupPinPteThp, gupPmdThp, gupPteThp } from './gup';
import { migrateReadMostly } from './migrate';
import { reclaimTouchedPages } from './reclaim';
import { zapPteMappedThp } from './zap';
import { zapDirtySharedFile } from './files';

/** Every named cost workload, in the order `mmcheck cost` prints them. */
export const WORKLOADS: readonly CostWorkload[] = [
  gupPmdThp,
  gupPinPmdThp,
  zapPteMappedThp,
  zapDirtySharedFile,
  migrateReadMostly,
  reclaimTouchedPages,
  freePageTables,
  forkPteMappedThp,
  forkPinnedPteMappedThp,
  gupPteThp,
  gupPinPteThp,
];

export class UnknownWorkloadError extends Error {
  constructor(readonly given: readonly string[]) {
    super(`unknown workload${given.length > 1 ? 's' : ''} ${given.map((n) => `'${n}'`).join(', ')}; valid workloads: ${WORKLOADS.map((w) => w.name).join(', ')}`);
  }
}

/** The named workloads, in the order given; all of them for an empty list. Throws UnknownWorkloadError naming the valid ones. */
export function selectWorkloads(names: readonly string[]): CostWorkload[] {
  if (names.length === 0) return [...WORKLOADS];
  const unknown = names.filter((n) => !WORKLOADS.some((w) => w.name === n));
  if (unknown.length > 0) throw new UnknownWorkloadError(unknown);
  return names.map((n) => WORKLOADS.find((w) => w.name === n)).filter((w): w is CostWorkload => w !== undefined);
}
