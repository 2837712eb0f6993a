import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PmdEntry, Pte } from '../machine/pte';
import { frameAt } from '../machine/frames';
import { mmAt, mmapLockOf, pmdAt, pmdStart, pteAt, setPmd, setPte } from '../machine/pgtable';
import { inSharedFileVma } from '../machine/files';
import { isZeroPfn } from '../machine/zeroPage';
import { x86HugePmdNeedsFlush, x86PteNeedsFlush } from './pteNeedsFlush';
import { MremapPaths } from './mremap';
import type { KernelSteps } from '../machine/tasks';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import { lockAcquire, lockRelease } from '../machine/locks';
import { underPmdLock, underPtl } from '../machine/lockedCall';

/**
 * mprotect(): changing what translations allow (mm/mprotect.c, mm/huge_memory.c, 6.12).
 *
 * Which entries change and whether a change needs a flush are the kernel's (`pte_modify()` +
 * `can_change_pte_writable()`, x86's `pte_needs_flush()`); when the flush happens is not. The
 * reference flushes each entry that needs it at once, while its PTL is held — the per-page
 * specification, under which no CPU ever holds a translation wider than its PTE after the
 * change. The kernel gathers the flushes in an mmu_gather and flushes once at `tlb_finish_mmu()`,
 * after every PTL is dropped (batched/mprotect.ts): correct only because no one relies on the
 * downgrade before mprotect() returns, which is exactly what the differential check compares.
 */
export abstract class ProtectPaths extends MremapPaths {
  /**
   * Mirrors `do_mprotect_pkey()` (mm/mprotect.c, 6.12) over [start, end): each VMA of the range
   * goes through `mprotect_fixup()`, which returns at once when the VMA already has the new flags
   * (`newflags == oldflags`) — no split of a PMD mapping, no change to a PTE — and otherwise
   * changes it with `change_protection()`. The model's VMAs are the maximal runs of pages with
   * one write permission, so only the runs whose permission changes reach `changeProtection()`.
   * (Found by `mmcheck conform`: a PMD-mapped THP stayed PMD-mapped after an mprotect() of one of
   * its pages to the protection it had.)
   */
  doMprotectPkey(m: Machine, mm: MmId, start: Vpn, end: Vpn, writable: boolean): void {
    runToEnd(this.mprotectSteps(m, mm, start, end, writable));
  }

  /**
   * `doMprotectPkey()` with its preemption points (issue 11, docs/concurrency.md): mprotect()
   * holds `mmap_lock` for write and write-locks each VMA (`vma_start_write()` in
   * `mprotect_fixup()`), so faults, GUP and every other op on the mm wait for it; what neither
   * lock excludes — hardware accesses through other CPUs' TLBs and GUP-fast — runs inside its
   * window. It takes `mmap_lock` for write here, and each slot's PTL or PMD lock in
   * `changeProtectionSteps()` (models/machine/locks.ts); the runner derives who waits from them.
   */
  *mprotectSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn, writable: boolean): KernelSteps {
    lockAcquire(m, mmapLockOf(mm, 'write')); // mmap_write_lock_killable()
    const vma = mmAt(m, mm).vmaWritable;
    for (let v: number = start; v < end; ) {
      if (vma[v] === writable) {
        v++;
        continue;
      }
      let runEnd = v + 1;
      while (runEnd < end && vma[runEnd] !== writable) runEnd++;
      if (overriddenBelow(this, 'changeProtectionSteps', 'changeProtection')) this.changeProtection(m, mm, asVpn(v), asVpn(runEnd), writable);
      else yield* this.changeProtectionSteps(m, mm, asVpn(v), asVpn(runEnd), writable);
      v = runEnd;
    }
    lockRelease(m, mmapLockOf(mm, 'write'));
  }

  /**
   * Mirrors `mprotect_fixup()` → `change_protection()` → `change_pmd_range()` (mm/mprotect.c,
   * 6.12) over [start, end) of VMAs whose protection changes, per page: a PMD leaf wholly
   * inside the range is changed whole (`change_huge_pmd()`), a partly covered one is split first;
   * PTE tables go through `changePteRange()`. Each entry that needs a flush
   * (`hugePmdNeedsFlush()`) is flushed at once.
   */
  changeProtection(m: Machine, mm: MmId, start: Vpn, end: Vpn, writable: boolean): void {
    runToEnd(this.changeProtectionSteps(m, mm, start, end, writable));
  }

  /**
   * `changeProtection()` with its preemption points: after each PMD slot that held a table or a
   * leaf ('mprotect: table done, PTL dropped': `change_pte_range()`'s `pte_unmap_unlock()`, then
   * `change_pmd_range()`'s `cond_resched()`), and before the gather's finish ('mprotect: before
   * tlb_finish_mmu()'). The reference flushes each entry as it changes it, so nothing is owed at
   * its points; it raises `mm->tlb_flush_pending` for the range's life as `tlb_gather_mmu()` does
   * in every kernel. Simplified: one gather per changed run (the kernel's `do_mprotect_pkey()` has
   * one for the whole call), in both kernels alike.
   */
  *changeProtectionSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn, writable: boolean): KernelSteps {
    const state = mmAt(m, mm);
    state.tlbFlushPending++;
    const vma = state.vmaWritable;
    for (let v = start; v < end; v++) vma[v] = writable;
    const ppt = m.geometry.ptrsPerPte;
    for (let i = Math.floor(start / ppt); i * ppt < end; i++) {
      const lo = Math.max(start, pmdStart(m, i));
      const hi = Math.min(end, pmdStart(m, i) + ppt);
      const pmd = pmdAt(m, mm, i);
      if (pmd.kind === 'leaf') {
        if (hi - lo < ppt) underPmdLock(m, mm, i, () => this.splitHugePmd(m, mm, i));
        else {
          underPmdLock(m, mm, i, () => {
            this.changeHugePmd(m, mm, i, writable);
            if (this.hugePmdNeedsFlush(pmd, pmdAt(m, mm, i))) this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + ppt);
          });
          yield 'mprotect: table done, PTL dropped';
          continue;
        }
      }
      if (pmdAt(m, mm, i).kind === 'table') {
        underPtl(m, mm, i, () => this.changePteRange(m, mm, asVpn(lo), asVpn(hi), writable));
        yield 'mprotect: table done, PTL dropped';
      }
    }
    yield 'mprotect: before tlb_finish_mmu()';
    state.tlbFlushPending--;
  }

  /**
   * Mirrors `change_pte_range()` (mm/mprotect.c, 6.12) over [lo, hi) of one table, per page: each
   * present PTE gets its new protection (`changePte()`), and when x86's `pte_needs_flush(oldpte,
   * ptent)` says so it is flushed at once, under the PTL — after `flush_tlb_batched_pending()`, as
   * the kernel does before changing any PTE of the table.
   */
  changePteRange(m: Machine, mm: MmId, lo: Vpn, hi: Vpn, writable: boolean): void {
    this.flushTlbBatchedPending(m, mm);
    for (let v = lo; v < hi; v++) {
      const old = pteAt(m, mm, asVpn(v));
      if (old === null || old.kind !== 'present') continue;
      this.changePte(m, mm, asVpn(v), writable);
      const nu = pteAt(m, mm, asVpn(v));
      if (nu !== null && this.pteNeedsFlush(old, nu)) this.flushTlbPage(m, mm, asVpn(v));
    }
  }

  /**
   * Mirrors `change_pte_range()` (mm/mprotect.c, 6.12) for one present PTE, without its flush
   * (the caller decides with `pteNeedsFlush()`): `pte_modify()` to the VMA's new protection — in
   * a private mapping `vm_page_prot` never has RW, so this write-protects — then, when making the
   * range writable (MM_CP_TRY_CHANGE_WRITABLE), `pte_mkwrite()` if `can_change_pte_writable()`:
   * in a private mapping, an exclusive anonymous page (`page && PageAnon(page) &&
   * PageAnonExclusive(page)`), which the shared zero page and a page-cache page never are
   * (`vm_normal_page()` NULL, `PageAnon()` false); in a MAP_SHARED file mapping, a dirty PTE (the
   * filesystem was notified by the write fault that dirtied it; a clean one must fault again for
   * `page_mkwrite`). Dirty and accessed bits are kept (`_PAGE_CHG_MASK`).
   */
  changePte(m: Machine, mm: MmId, v: Vpn, writable: boolean): void {
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind !== 'present') return;
    const allowed = inSharedFileVma(m, mm, v) ? pte.dirty : !isZeroPfn(m, pte.pfn) && frameAt(m, pte.pfn).anonExclusive;
    const upgrade = writable && allowed;
    if (pte.writable !== upgrade) setPte(m, mm, v, { ...pte, writable: upgrade });
  }

  /**
   * Mirrors `change_huge_pmd()` (mm/huge_memory.c, 6.12) for an anonymous THP, without its flush
   * (the caller decides with `hugePmdNeedsFlush()`): `pmdp_invalidate_ad()` — on x86 without a
   * flush of its own — then `pmd_modify()` and, when making the range writable,
   * `can_change_pmd_writable()` (the head's PageAnonExclusive).
   */
  changeHugePmd(m: Machine, mm: MmId, i: number, writable: boolean): void {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf') return;
    const upgrade = writable && frameAt(m, pmd.pfn).anonExclusive;
    if (pmd.writable !== upgrade) setPmd(m, mm, i, { ...pmd, writable: upgrade });
  }

  /** Mirrors `pte_needs_flush()` (arch/x86/include/asm/tlbflush.h, 6.12); see pteNeedsFlush.ts. */
  pteNeedsFlush(old: Pte, nu: Pte): boolean {
    return x86PteNeedsFlush(old, nu);
  }

  /** Mirrors `huge_pmd_needs_flush()` (arch/x86/include/asm/tlbflush.h, 6.12); see pteNeedsFlush.ts. */
  hugePmdNeedsFlush(old: PmdEntry, nu: PmdEntry): boolean {
    return x86HugePmdNeedsFlush(old, nu);
  }
}
