import fc from 'fast-check';
import { BatchedKernel } from '../../models/batched/BatchedKernel';
import { createMachine } from '../../models/machine/create';
import type { Geometry } from '../../models/machine/geometry';
import type { Machine } from '../../models/machine/state';
import type { PmdEntry, Pte } from '../../models/machine/pte';
import { tableEntries } from '../../models/machine/pgtable';
import { DEFAULT_GENERATION, sequencesArb } from '../check/generation';
import { applyOp } from '../ops/apply';
import { withDrain } from '../run/checkedRun';

/** Every mm's PMD entries, and the PTEs of each table they point to, as the objects they are. */
interface TablesSnapshot {
  readonly pmds: readonly (readonly PmdEntry[])[];
  readonly ptes: readonly (readonly (readonly Pte[] | null)[])[];
}

function snapshot(m: Machine): TablesSnapshot {
  const pmds = m.mms.map((mm) => (mm.alive ? [...mm.pmds] : []));
  const ptes = m.mms.map((mm) => (mm.alive ? mm.pmds.map((e) => (e.kind === 'table' ? [...tableEntries(m, e.table)] : null)) : []));
  return { pmds, ptes };
}

/** Entries written between two snapshots: PMD slots that hold another entry, and PTE slots that do (entries are immutable: a write is a new object). */
function entriesWritten(a: TablesSnapshot, b: TablesSnapshot): number {
  let n = 0;
  const mms = Math.max(a.pmds.length, b.pmds.length);
  for (let mm = 0; mm < mms; mm++) {
    const pa = a.pmds[mm] ?? [];
    const pb = b.pmds[mm] ?? [];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      if (pa[i] !== pb[i]) n++;
      const ta = a.ptes[mm]?.[i] ?? [];
      const tb = b.ptes[mm]?.[i] ?? [];
      for (let k = 0; k < Math.max(ta.length, tb.length); k++) {
        const x = ta[k];
        const y = tb[k];
        if (x === y) continue;
        // A table that appeared or went away: only its entries that map something count.
        if ((x === undefined || x.kind === 'none') && (y === undefined || y.kind === 'none')) continue;
        n++;
      }
    }
  }
  return n;
}

/**
 * How many page-table entries (PTE and PMD slots) the batched kernel writes per step on the
 * check's sequences (same seed and arbitrary as runCheck's): the work an op does, so the bench
 * can compare the geometries per touched entry as well as per step. Untimed: the snapshots walk
 * every table after every step.
 */
export function entriesTouchedPerStep(g: Geometry, runs: number, seed: number, maxOps: number): number {
  let steps = 0;
  let entries = 0;
  fc.assert(
    fc.property(sequencesArb(g, maxOps, DEFAULT_GENERATION, false), (ops) => {
      const all = withDrain(ops);
      const kernel = new BatchedKernel();
      const m = createMachine(g);
      let before = snapshot(m);
      all.forEach((op, i) => {
        applyOp(kernel, m, op, i);
        const after = snapshot(m);
        entries += entriesWritten(before, after);
        before = after;
      });
      steps += all.length;
    }),
    { seed, numRuns: runs },
  );
  return steps === 0 ? 0 : entries / steps;
}
