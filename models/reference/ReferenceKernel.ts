import type { MmId } from '../machine/ids';
import type { Machine } from '../machine/state';
import { liveMms, pmdAt, pmdStart, setPmd } from '../machine/pgtable';
import { rcuRunReadyCallbacks } from '../machine/rcu';
import { enterLazyTlb } from '../machine/tlb';
import type { OpResult } from '../result';
import { noop } from '../result';
import { CollapsePaths } from './collapse';

/**
 * The specification by construction: per page, unbatched, synchronous. Every unmap flushes the
 * page before dropping the rmap and the reference; GUP takes one reference per page; migration
 * flushes each PTE as it unmaps it; page tables are freed only after an RCU grace period.
 *
 * Kernel version: Linux 6.12 (x86-64, anonymous private memory), function by function as each
 * method's doc comment says; in particular a large folio is never reused on a COW fault
 * (6.12's `wp_can_reuse_anon_folio()`). Newer than 6.12: `reclaimPteTable` (6.14's PT reclaim,
 * mm/pt_reclaim.c), kept as an op of its own. No seed patch is applied: the per-page paths are
 * what every seed batches. For 6.15's large-folio COW reuse (seed 001's rule) see
 * reference-6.15 (models/v615/). Deliberate simplifications are marked "Simplified" in the
 * methods' comments and listed per review row in docs/fidelity/.
 *
 * The methods are layered by topic (rmap → page tables → faults → zap → fork → protect →
 * migrate → gup → walkers → this file); a variant overrides the kernel functions a patch touches
 * and inherits the rest, since every internal call goes through `this`.
 */
export class ReferenceKernel extends CollapsePaths {
  readonly name: string = 'reference';

  /** exit(): tear the mm down. A no-op for the last live mm, so a sequence always has one. */
  exitMm(m: Machine, mm: MmId): OpResult {
    if (liveMms(m).length <= 1) return noop('last live mm');
    this.mmapWriteLockWaitsForReaders(m, mm);
    this.exitMmap(m, mm);
    return { kind: 'done' };
  }

  /**
   * Mirrors `try_to_free_pte()` (mm/pt_reclaim.c; `zap_pte_table_if_empty()` in newer trees):
   * reclaim the PTE table of PMD slot i if every entry is none — unlink it, flush with
   * freed_tables, free it when no walker can reach it.
   */
  reclaimPteTable(m: Machine, mm: MmId, i: number): OpResult {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'table') return noop('no PTE table');
    if (!this.tableIsEmpty(m, pmd.table)) return noop('PTE table not empty');
    setPmd(m, mm, i, { kind: 'none' });
    this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte, true);
    this.freePteTable(m, pmd.table);
    return { kind: 'done' };
  }

  /**
   * Time passes: grace periods that can end do, and their callbacks run; every CPU not inside a
   * walk runs a kernel thread for a while and so enters lazy TLB mode (`enter_lazy_tlb()`).
   */
  tick(m: Machine): OpResult {
    for (const c of m.cpus) enterLazyTlb(m, c.id);
    rcuRunReadyCallbacks(m);
    return { kind: 'done' };
  }

  /**
   * End of a sequence: finish every walker, then run deferred work until none is left, so the
   * machine is quiescent (no walker, no callback, nothing kept alive for a deferred flush).
   */
  drain(m: Machine): OpResult {
    for (const c of m.cpus) while (c.walker !== null || c.finishedWalk !== null) this.finishWalker(m, c.id);
    for (let round = 0; round < 8 && m.rcu.callbacks.length > 0; round++) this.tick(m);
    this.warnOn(m, m.rcu.callbacks.length > 0, 'RCU callbacks still pending after drain');
    return { kind: 'done' };
  }
}
