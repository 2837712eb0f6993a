import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { mmAt, pmdAt, pmdStart, pteAt } from '../machine/pgtable';
import { mark } from '../machine/marks';
import type { MmuGather } from './mmuGather';
import { gatherNeedsFlush } from './mmuGather';
import { BatchedMigrate } from './migrate';
import type { KernelSteps } from '../machine/tasks';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import { underPmdLock, underPtl } from '../machine/lockedCall';

/**
 * mprotect() through an mmu_gather, as 6.12 does it: `do_mprotect_pkey()` runs
 * `tlb_gather_mmu()`, every `change_pte_range()` / `change_huge_pmd()` records the entries x86's
 * `pte_needs_flush()` / `huge_pmd_needs_flush()` flag with `tlb_flush_pte_range()` /
 * `tlb_flush_pmd_range()` (range only: no page is freed), drops its PTL, and one flush of the
 * gathered range happens at `tlb_finish_mmu()`.
 *
 * Between a PTE's downgrade and `tlb_finish_mmu()` the flush is owed and lives in the gather
 * (`tlb.start/end`, `clearedPtes/clearedPmds`): that is the window in which another CPU may still
 * write through its old writable TLB entry. With schedule ops (issue 11) mprotect runs as a task
 * and other CPUs' accesses and GUP-fast run inside that window (docs/concurrency.md).
 */
export abstract class BatchedMprotect extends BatchedMigrate {
  /**
   * Mirrors `do_mprotect_pkey()` (mm/mprotect.c, 6.12): `tlb_gather_mmu()`, `mprotect_fixup()` →
   * `change_protection()` for the range, then `tlb_finish_mmu()` — the one flush, after every PTL
   * was dropped and before the mmap lock is. With its preemption points (issue 11): the plain
   * `changeProtection()` (inherited) runs this to its end; at 'mprotect: before tlb_finish_mmu()'
   * the downgraded entries' flush is owed, in the gather.
   */
  override *changeProtectionSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn, writable: boolean): KernelSteps {
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    const tlb = this.tlbGatherMmu(m, mm, false);
    // Stryker disable next-line ConditionalExpression,StringLiteral: a preemption point more or less: more or fewer schedules explored, same behaviour; the registered kernels run the *Steps twin
    if (overriddenBelow(this, 'changeProtectionRangeSteps', 'changeProtectionRange')) this.changeProtectionRange(m, tlb, start, end, writable);
    else yield* this.changeProtectionRangeSteps(m, tlb, start, end, writable);
    // Stryker disable next-line ConditionalExpression,StringLiteral: tracepoint only (coverage, not behaviour)
    if (gatherNeedsFlush(tlb)) mark(m, 'mprotect left a flush to tlb_finish_mmu');
    // Stryker disable next-line StringLiteral: message text
    yield 'mprotect: before tlb_finish_mmu()';
    this.tlbFinishMmu(m, tlb);
  }

  /**
   * Mirrors `change_protection_range()` → `change_pmd_range()` (mm/mprotect.c, 6.12): the VMA's
   * new protection, then per PMD: a leaf wholly inside the range goes to `change_huge_pmd()`,
   * which records its range when `huge_pmd_needs_flush()` says so; a partly covered leaf is split
   * first; a table goes to `change_pte_range()`.
   */
  // Stryker disable next-line BlockStatement: the registered kernels run the *Steps twin
  changeProtectionRange(m: Machine, tlb: MmuGather, start: Vpn, end: Vpn, writable: boolean): void {
    runToEnd(this.changeProtectionRangeSteps(m, tlb, start, end, writable));
  }

  /**
   * `changeProtectionRange()` with its preemption points: after each PMD slot that held a table or
   * a leaf ('mprotect: table done, PTL dropped'), the PTL dropped with the flush still owed.
   */
  *changeProtectionRangeSteps(m: Machine, tlb: MmuGather, start: Vpn, end: Vpn, writable: boolean): KernelSteps {
    const vma = mmAt(m, tlb.mm).vmaWritable;
    for (let v = start; v < end; v++) vma[v] = writable;
    const ppt = m.geometry.ptrsPerPte;
    for (let i = Math.floor(start / ppt); i * ppt < end; i++) {
      const lo = Math.max(start, pmdStart(m, i));
      const hi = Math.min(end, pmdStart(m, i) + ppt);
      const pmd = pmdAt(m, tlb.mm, i);
      if (pmd.kind === 'leaf') {
        if (hi - lo < ppt) underPmdLock(m, tlb.mm, i, () => this.splitHugePmd(m, tlb.mm, i));
        else {
          underPmdLock(m, tlb.mm, i, () => {
            this.changeHugePmd(m, tlb.mm, i, writable);
            if (this.hugePmdNeedsFlush(pmd, pmdAt(m, tlb.mm, i))) this.tlbFlushPmdRange(tlb, pmdStart(m, i), ppt);
          });
          // Stryker disable next-line StringLiteral: message text
          yield 'mprotect: table done, PTL dropped';
          continue;
        }
      }
      if (pmdAt(m, tlb.mm, i).kind === 'table') {
        underPtl(m, tlb.mm, i, () => this.changePteRange(m, tlb.mm, asVpn(lo), asVpn(hi), writable, tlb));
        // Stryker disable next-line StringLiteral: message text
        yield 'mprotect: table done, PTL dropped';
      }
    }
  }

  /**
   * Mirrors `change_pte_range()` (mm/mprotect.c, 6.12) over [lo, hi) of one table: under the PTL,
   * each present PTE gets its new protection (`changePte()`), and when `pte_needs_flush(oldpte,
   * ptent)` says so, `tlb_flush_pte_range(tlb, addr, PAGE_SIZE)` records it in the gather. No
   * flush happens here: the PTL is dropped with the flush still owed. Called without a gather,
   * it runs in one of its own.
   */
  override changePteRange(m: Machine, mm: MmId, lo: Vpn, hi: Vpn, writable: boolean, tlb?: MmuGather): void {
    // Stryker disable next-line BlockStatement: the other side is unreachable in the model
    if (tlb === undefined) {
      // Stryker disable next-line BooleanLiteral: the other side is unreachable in the model
      const own = this.tlbGatherMmu(m, mm, false);
      this.changePteRange(m, mm, lo, hi, writable, own);
      this.tlbFinishMmu(m, own);
      return;
    }
    // pte_offset_map_lock()
    this.flushTlbBatchedPending(m, mm);
    for (let v = lo; v < hi; v++) {
      const old = pteAt(m, mm, asVpn(v));
      // Stryker disable next-line LogicalOperator: visits nothing more that matters
      if (old === null || old.kind !== 'present') continue;
      this.changePte(m, mm, asVpn(v), writable);
      const nu = pteAt(m, mm, asVpn(v));
      // Stryker disable next-line LogicalOperator: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
      if (nu !== null && this.pteNeedsFlush(old, nu)) this.tlbFlushPteRange(tlb, v, 1);
    }
    // pte_unmap_unlock(): the flush stays owed in the gather until tlb_finish_mmu().
  }
}
