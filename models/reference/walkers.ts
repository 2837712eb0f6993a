import type { CpuId, MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn } from '../machine/ids';
import type { GupFastStop, GupPage, Machine, Walker } from '../machine/state';
import { assertNever } from '../assertNever';
import { folioHead, frameAt } from '../machine/frames';
import { mmAt, pmdAt, pmdIndexOf, pmdStart, pteAt, tableEntries } from '../machine/pgtable';
import type { PmdEntry, Pte } from '../machine/pte';
import { pmdSame, pteSame } from '../machine/pte';
import { walkerEnter, walkerExit } from '../machine/rcu';
import { switchMm } from '../machine/tlb';
import { mark } from '../machine/marks';
import { isZeroPfn } from '../machine/zeroPage';
import type { OpResult } from '../result';
import { noop } from '../result';
import { GupPaths } from './gup';

export type GupFastWalker = Extract<Walker, { kind: 'gupFast' }>;

/**
 * Lockless page-table walkers that stay in flight across other operations: GUP-fast (IRQs off,
 * reads the PTE, later grabs the folio and rechecks) and a `pte_offset_map()` reader (only
 * rcu_read_lock()). Their sections are what page-table freeing must wait for.
 */
export abstract class WalkerPaths extends GupPaths {
  /**
   * Mirrors the first half of `gup_fast()` for one page (mm/gup.c, 6.12): `local_irq_save()`, read
   * the PMD and the PTE locklessly (`pmdp_get_lockless()`, `ptep_get_lockless()` through
   * `pte_offset_map()`), and — with `stop` 'recheck', the default — take the reference or pin at
   * once (`try_grab_folio_fast()`), as the kernel does a few instructions after the read; the
   * recheck and the unshare test wait for `gupFastGrab`, so everything between the two ops
   * happens inside the kernel's grab→recheck window. With `stop` 'grab' the walk only reads: the
   * grab waits for `gupFastGrab` too, so everything between the two ops happens between
   * `ptep_get_lockless()` and `try_grab_folio_fast()`, where the page may be freed or reused
   * (docs/concurrency.md, "The GUP-fast windows"). Either way the IRQs-off section spans the two
   * ops.
   */
  gupFastWalk(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pin: boolean, write: boolean, stop: GupFastStop = 'recheck'): OpResult {
    if (this.cpuBusyWalking(m, cpu)) return noop('cpu already walking');
    // Simplified (issue 14): GUP of a file mapping is not modelled yet (see getUserPagesSteps()).
    if (this.fileVmaOf(m, mm, v) !== null) return noop('GUP of a file mapping is not modelled');
    const mmState = mmAt(m, mm);
    switchMm(m, cpu, mm);
    if (pin) mmState.hasPinned = true;
    const pmd = pmdAt(m, mm, pmdIndexOf(m, v));
    // Nothing to walk (a none PMD, or a migration entry: !pmd_present() in gup_fast_pmd_range()):
    // gup_fast() takes no page and gup_fast_fallback() goes the slow way at once.
    if (pmd.kind === 'none' || pmd.kind === 'migration') return this.gupFastFallback(m, cpu, mm, v, pin, write);
    const table = pmd.kind === 'table' ? pmd.table : null;
    const pte = pmd.kind === 'table' ? pteAt(m, mm, v) : null;
    const seq = pin ? this.gupFastSeqBegin(m, mm) : null;
    // A fork is write-protecting the mm: gup_fast() takes nothing and the slow path (which waits
    // for the fork's mmap_lock) takes the page at walkEnd. Simplified: the walk still shows as an
    // IRQs-off section until then, although the kernel's bail-out is immediate.
    const bailed = pin && seq === null;
    const page = bailed ? null : this.gupFastReadPage(m, v, pmd, pte, write);
    walkerEnter(m, cpu, {
      kind: 'gupFast',
      mm,
      vpn: v,
      pin,
      write,
      pmd,
      pte,
      table,
      tableGen: table === null ? 0 : frameAt(m, table).gen,
      stop,
      grabbed: stop === 'grab' || page === null ? null : this.gupFastTryGrab(m, page, pin),
      seq,
    });
    return { kind: 'done' };
  }

  /**
   * Mirrors the tests `gup_fast_pte_range()` / `gup_fast_pmd_leaf()` (mm/gup.c, 6.12) make on the
   * entry they read, before `try_grab_folio_fast()`: the page the walk may take, or null — a
   * non-present or (for FOLL_WRITE) read-only entry (`pte_access_permitted()`,
   * `pmd_access_permitted()`), or the shared zero page (`pte_special()` → `goto pte_unmap`),
   * whose walk then falls back to the slow path at walkEnd. A function of the values read only.
   */
  gupFastReadPage(m: Machine, v: Vpn, pmd: PmdEntry, pte: Pte | null, write: boolean): Pfn | null {
    if (pmd.kind === 'leaf') {
      if (write && !pmd.writable) return null;
      return asPfn(pmd.pfn + (v - pmdStart(m, pmdIndexOf(m, v))));
    }
    if (pte === null || pte.kind !== 'present' || (write && !pte.writable)) return null;
    if (isZeroPfn(m, pte.pfn)) {
      mark(m, 'GUP-fast fell back at the zero page');
      return null;
    }
    return pte.pfn;
  }

  /**
   * Mirrors `gup_fast_pte_range()`'s call `try_grab_folio_fast(page, 1, flags)` (mm/gup.c, 6.12),
   * through `tryGrabFolioFast()`, for the page a walk read: the page it now holds, with the
   * frame's generation at the grab, or null when the grab failed.
   */
  gupFastTryGrab(m: Machine, page: Pfn, pin: boolean): GupPage | null {
    if (this.tryGrabFolioFast(m, page, 1, pin) === null) return null;
    return { pfn: page, gen: frameAt(m, page).gen };
  }

  /**
   * Would the grab of a walk stopped at 'grab' succeed now (`try_grab_folio_fast()`'s
   * `folio_ref_try_add()`: a live data folio with references, and its `page_folio()` recheck)?
   * Changes nothing: the runner asks it to decide whether the walk's end takes a lock
   * (`gupFastKeepsPage()`).
   */
  gupFastGrabWouldSucceed(m: Machine, page: Pfn): boolean {
    const head = folioHead(m, page);
    return this.folioRefTryable(m, head) && this.gupFastFolioStillOwns(m, page, head);
  }

  /**
   * Does the walk on `w` keep its page if it ends now (no slow-path fallback, which would take
   * `mmap_lock`)? Changes nothing. For a walk stopped at 'grab' it asks whether the grab would
   * succeed and what the recheck would then say.
   */
  gupFastKeepsPage(m: Machine, w: GupFastWalker): boolean {
    switch (w.stop) {
      case 'recheck':
        return this.gupFastRecheckAll(m, w);
      case 'grab': {
        if (this.gupFastBailed(w)) return false;
        const page = this.gupFastPageOf(m, w);
        if (page === null || !this.gupFastGrabWouldSucceed(m, page)) return false;
        return this.gupFastRecheckAll(m, { ...w, stop: 'recheck', grabbed: { pfn: page, gen: frameAt(m, page).gen } });
      }
      default:
        return assertNever(w.stop);
    }
  }

  /** A FOLL_PIN walk that began inside a fork's write-protect (odd `write_protect_seq`): it takes nothing. */
  gupFastBailed(w: GupFastWalker): boolean {
    return w.pin && w.seq === null;
  }

  /** The page the walk's read lets it take (`gupFastReadPage()` on the values it read), without the zero-page mark. */
  protected gupFastPageOf(m: Machine, w: GupFastWalker): Pfn | null {
    if (w.pte !== null && w.pte.kind === 'present' && isZeroPfn(m, w.pte.pfn)) return null;
    return this.gupFastReadPage(m, w.vpn, w.pmd, w.pte, w.write);
  }

  /**
   * A walk stopped at 'grab' does its `try_grab_folio_fast()` now, on the page its read found
   * (nothing when that allowed none or the walk bailed for a fork): the walk as if it had
   * stopped at 'recheck'. A walk stopped at 'recheck' is returned as it is.
   */
  gupFastGrabNow(m: Machine, w: GupFastWalker): GupFastWalker {
    switch (w.stop) {
      case 'recheck':
        return w;
      case 'grab': {
        const page = this.gupFastBailed(w) ? null : this.gupFastPageOf(m, w);
        const grabbed = page === null ? null : this.gupFastTryGrab(m, page, w.pin);
        if (page !== null && grabbed === null) mark(m, 'GUP-fast grab failed: the page was freed (or split) after the read');
        return { ...w, stop: 'recheck', grabbed };
      }
      default:
        return assertNever(w.stop);
    }
  }

  /**
   * Mirrors the start of `gup_fast()` (mm/gup.c, 6.12) with FOLL_PIN:
   * `seq = raw_read_seqcount(&current->mm->write_protect_seq); if (seq & 1) return 0;` (later
   * trees spell it `raw_seqcount_try_begin()`) — an odd count means a fork is write-protecting
   * the mm, so a pin taken now could land on a page fork has just shared with its child. Returns
   * the count read, or null when GUP-fast must take nothing.
   */
  gupFastSeqBegin(m: Machine, mm: MmId): number | null {
    const seq = mmAt(m, mm).writeProtectSeq;
    return seq % 2 === 1 ? null : seq;
  }

  /**
   * Mirrors the end of `gup_fast()` (mm/gup.c, 6.12) with FOLL_PIN:
   * `if (read_seqcount_retry(&current->mm->write_protect_seq, seq)) unpin_user_pages_lockless(...)`
   * — a fork started (or ran) under the walk: drop the pins and let the slow path, which
   * serialises with fork on mmap_lock, take the pages. True when the walk may keep its pin.
   */
  gupFastSeqRetryOk(m: Machine, w: GupFastWalker): boolean {
    return w.seq === null || mmAt(m, w.mm).writeProtectSeq === w.seq;
  }

  /**
   * Mirrors `gup_fast()` (mm/gup.c, 6.12), second half: for a walk stopped at 'grab', first
   * `try_grab_folio_fast()` on the page it read (`gupFastGrabNow()`); then recheck that the PMD
   * and PTE did not change since the read, and `gup_must_unshare()`; on any failure the reference
   * is put back. `local_irq_restore()` ends the section either way.
   */
  gupFastGrab(m: Machine, cpu: CpuId): OpResult {
    const read = m.cpus[cpu]?.walker;
    if (read === undefined || read === null || read.kind !== 'gupFast') return noop('no GUP-fast walk on this cpu');
    const w = this.gupFastGrabNow(m, read);
    const passed = this.gupFastRecheckAll(m, w);
    // local_irq_restore() before anything else: the slow-path fallback sleeps and faults.
    walkerExit(m, cpu);
    return this.gupFastHandOver(m, cpu, w, passed);
  }

  /** Mirrors `gup_fast_pte_range()` (mm/gup.c), its recheck and unshare test (B4, B5 of the rmap.h ordering): may the walk keep its page? */
  gupFastRecheckAll(m: Machine, w: GupFastWalker): boolean {
    if (w.grabbed === null) return false;
    // For a PMD leaf the unshare test looks at the head, where PageAnonExclusive lives.
    const exclusivityPage = w.pmd.kind === 'leaf' ? w.pmd.pfn : w.grabbed.pfn;
    // Only a read-only entry is tested (`!pte_write(pte) && gup_must_unshare()`).
    const writable = w.pmd.kind === 'leaf' ? w.pmd.writable : w.pte?.kind === 'present' && w.pte.writable;
    return (
      this.gupFastRecheck(m, w) &&
      !(!writable && this.gupMustUnshare(m, { pin: w.pin, write: w.write, fast: true }, exclusivityPage)) &&
      this.gupFastSeqRetryOk(m, w) &&
      !this.gupFastGrabbedFilePage(m, w)
    );
  }

  /**
   * Simplified (issue 14): GUP of a file mapping is not modelled (`gupFastWalk()` refuses to begin
   * on one), but a walk that read an anonymous PTE may grab after the page was freed and reused
   * as a page-cache page that an identical-looking PTE now maps (a MAP_FIXED mmap of a file over
   * the page, then a fault) — its recheck then passes in 6.12, which keeps a pin on a file page
   * (`gup_fast_folio_allowed()` allows it without FOLL_LONGTERM). The model treats that grab as a
   * failed recheck: the reference goes back and the slow path, which takes no file page, runs.
   * properties/gupFastSoakFindings.test.ts shows the limit.
   */
  gupFastGrabbedFilePage(m: Machine, w: GupFastWalker): boolean {
    if (w.grabbed === null) return false;
    const fr = m.frames[w.grabbed.pfn];
    return fr !== undefined && fr.state === 'data' && m.frames[fr.head]?.folio?.mapping !== undefined;
  }

  /**
   * Mirrors the end of `gup_fast_fallback()` (mm/gup.c, 6.12) for one walked page: the reference
   * the walk took becomes a handle when the recheck passed; otherwise it goes back
   * (`gup_put_folio()`) and, as the kernel does whenever GUP-fast took fewer pages than asked, the
   * page is taken the slow way.
   */
  gupFastHandOver(m: Machine, cpu: CpuId, w: GupFastWalker, passed: boolean): OpResult {
    const g = w.grabbed;
    if (g !== null && passed && m.handles.length < m.geometry.maxHandles) {
      return this.newHandle(m, w.mm, w.vpn, { pin: w.pin, write: w.write, fast: true }, [g]);
    }
    if (g !== null) this.gupPutFolio(m, folioHead(m, g.pfn), 1, w.pin);
    return this.gupFastFallback(m, cpu, w.mm, w.vpn, w.pin, w.write);
  }

  /**
   * Mirrors the slow half of `gup_fast_fallback()` (mm/gup.c, 6.12): GUP-fast gave up on the page,
   * so `__gup_longterm_locked()` takes it under the mmap lock, faulting it in as needed. The mm may
   * have exited meanwhile (the walk outlived it): then there is nothing to take.
   */
  gupFastFallback(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pin: boolean, write: boolean): OpResult {
    if (!mmAt(m, mm).alive) return { kind: 'gupFailed' };
    return this.getUserPages(m, cpu, mm, v, 1, { pin, write, fast: false });
  }

  /**
   * Mirrors `gup_fast_pte_range()` (mm/gup.c), its recheck after taking the reference: `pmd_val(pmd) != pmd_val(*pmdp)` or
   * `pte_val(pte) != pte_val(ptep_get(ptep))` means the page table changed under the walk (zap,
   * COW, fork's write-protect, migration, table removal), so the reference must be dropped.
   */
  gupFastRecheck(m: Machine, w: GupFastWalker): boolean {
    const pmdNow = pmdAt(m, w.mm, pmdIndexOf(m, w.vpn));
    if (!pmdSame(pmdNow, w.pmd)) return false;
    if (w.table === null || w.pte === null) return true;
    const pteNow = tableEntries(m, w.table)[w.vpn % m.geometry.ptrsPerPte];
    return pteNow !== undefined && pteSame(pteNow, w.pte);
  }

  /**
   * Mirrors `pte_offset_map()` → `__pte_offset_map()` (mm/pgtable-generic.c, 6.12):
   * `rcu_read_lock()`, read the PMD, hold the table. The reader is one a real kernel has: it holds
   * the mmap read lock of `mm` (or an rmap lock of the VMA), so exit's `free_pgtables()` waits for
   * it (mmapWriteLockWaitsForReaders) and only PT reclaim, under the mmap read lock, frees a table
   * under it. It does not switch the CPU's mm: it may be an rmap walker or a remote lock holder.
   */
  pteOffsetMapWalk(m: Machine, cpu: CpuId, mm: MmId, v: Vpn): OpResult {
    if (this.cpuBusyWalking(m, cpu)) return noop('cpu already walking');
    const pmd = pmdAt(m, mm, pmdIndexOf(m, v));
    if (pmd.kind !== 'table') return noop('no PTE table');
    walkerEnter(m, cpu, { kind: 'pteOffsetMap', mm, vpn: v, table: pmd.table, tableGen: frameAt(m, pmd.table).gen });
    return { kind: 'done' };
  }

  /**
   * Mirrors `pte_unmap()` (include/linux/pgtable.h): the reader reads its PTE one last time —
   * from a table that may be detached but must not have been freed — and leaves the RCU section.
   */
  pteUnmap(m: Machine, cpu: CpuId): OpResult {
    const w = m.cpus[cpu]?.walker;
    if (w === undefined || w === null || w.kind !== 'pteOffsetMap') return noop('no pte_offset_map() reader on this cpu');
    this.warnOn(m, frameAt(m, w.table).gen !== w.tableGen, `pte_offset_map() reader on cpu ${cpu} read a freed table`);
    walkerExit(m, cpu);
    return { kind: 'done' };
  }

  /** A walk is in flight on `cpu`, or one an IPI finished has not been reported yet. */
  cpuBusyWalking(m: Machine, cpu: CpuId): boolean {
    const c = m.cpus[cpu];
    return c === undefined || c.walker !== null || c.finishedWalk !== null;
  }

  /** Whatever walker is on `cpu`, finish it (walkEnd, drain); or report the walk an IPI finished. */
  finishWalker(m: Machine, cpu: CpuId): OpResult {
    const c = m.cpus[cpu];
    if (c === undefined) return noop('no such cpu');
    if (c.finishedWalk !== null) {
      const f = c.finishedWalk;
      c.finishedWalk = null;
      return this.gupFastHandOver(m, cpu, f.walk, f.recheckPassed);
    }
    const w = c.walker;
    if (w === null) return noop('no walker on this cpu');
    return w.kind === 'gupFast' ? this.gupFastGrab(m, cpu) : this.pteUnmap(m, cpu);
  }

  /**
   * Mirrors `tlb_remove_table_sync_one()` (mm/mmu_gather.c): an IPI to every CPU, waiting for each
   * to take it, before `tables` are freed. A CPU with IRQs off (GUP-fast) takes it only after its
   * walk has done its last read of the table — the recheck, after the grab for a walk stopped
   * before it (`ipiWaitsForIrqsOff()`); a `pte_offset_map()` reader takes it at once and keeps its
   * table pointer.
   */
  tlbRemoveTableSyncOne(m: Machine, tables: readonly Pfn[]): void {
    m.stats.tableSyncIpis += m.cpus.length;
    this.ipiWaitsForIrqsOff(m, m.cpus.map((c) => c.id), (w) => w.table !== null && tables.includes(w.table));
  }

  /**
   * A synchronous flush IPI (`smp_call_function_many_cond(..., wait=true)`, arch/x86/mm/tlb.c
   * `native_flush_tlb_multi()`, 6.12) reached `cpus`: a CPU running GUP-fast with IRQs off takes
   * it only once `gup_fast()` has done its last read of the table (its recheck), so the flush
   * returns after the walk's reads. Simplified: only a walk whose table is no longer linked from
   * its PMD is made to finish here — the one case where it matters for the table, since it may be
   * freed right after; the walk grabs now if it stopped before its grab, and its recheck fails now
   * as it would at walkEnd. Finishing walks whose recheck could still pass would make their
   * outcome depend on when each kernel flushes. So a flush of a page whose table stays linked (a
   * zap) does not wait for a walk stopped before its grab, and the zap may free the page the walk
   * read before the walk grabs it: what a flush that sends no IPI allows — a paravirt flush
   * (KVM's `kvm_flush_tlb_multi()` skips preempted vCPUs, Hyper-V's and Xen's hypercalls) or a
   * broadcast TLB invalidation (arm64's TLBI) — and why `try_grab_folio_fast()` must use
   * `folio_try_get()`. A native x86 IPI would hold the free back until the walk's grab.
   */
  flushIpiWaitsForIrqsOff(m: Machine, cpus: readonly CpuId[]): void {
    this.ipiWaitsForIrqsOff(m, cpus, (w) => w.table !== null && !this.tableLinkedFrom(m, w));
  }

  /** The PMD the walk read still points to the table it holds. */
  tableLinkedFrom(m: Machine, w: GupFastWalker): boolean {
    const pmd = pmdAt(m, w.mm, pmdIndexOf(m, w.vpn));
    return pmd.kind === 'table' && pmd.table === w.table;
  }

  /**
   * The GUP-fast walks on `cpus` that `mustFinish` selects end their reads now (see
   * Cpu.finishedWalk): the IPI is taken only at `local_irq_restore()`, so the rest of the
   * IRQs-off section runs first. A walk stopped at 'grab' does its `try_grab_folio_fast()` now
   * (`gupFastGrabNow()`: it fails on a freed page, takes nothing when its read allowed nothing),
   * then its recheck, as one stopped at 'recheck' does; a failed recheck puts the reference back
   * here, as the kernel does before the IPI is taken; a walk that grabbed nothing is finished with
   * nothing to put back.
   */
  ipiWaitsForIrqsOff(m: Machine, cpus: readonly CpuId[], mustFinish: (w: GupFastWalker) => boolean): void {
    for (const id of cpus) {
      const c = m.cpus[id];
      const read = c?.walker;
      if (c === undefined || !c.irqsDisabled || read === undefined || read === null || read.kind !== 'gupFast' || !mustFinish(read)) continue;
      mark(m, 'flush IPI waited for a GUP-fast walk');
      const w = this.gupFastGrabNow(m, read);
      const passed = this.gupFastRecheckAll(m, w);
      // A failed recheck puts the reference back at once, inside the IRQs-off section
      // (gup_fast_pte_range(): gup_put_folio() before local_irq_restore()), so before the IPI is
      // taken: nothing is held across ops. Only a walk whose recheck passed keeps its page for
      // walkEnd's handle. (Holding it on would let a stale walk's grab of a reused frame — which
      // folio sits there depends on when each kernel frees — block a later migration on one side.)
      if (!passed && w.grabbed !== null) this.gupPutFolio(m, folioHead(m, w.grabbed.pfn), 1, w.pin);
      c.finishedWalk = { walk: passed ? w : { ...w, grabbed: null }, recheckPassed: passed };
      walkerExit(m, c.id);
    }
  }

  /**
   * `mmap_write_lock()` as `exit_mmap()` takes it before `free_pgtables()` (mm/mmap.c, 6.12):
   * it waits for every `pte_offset_map()` reader of the mm, which holds the mmap read lock (the
   * model's readers are such readers, or rmap walkers that `unlink_anon_vmas()` waits for in
   * `free_pgtables()`). The reader finishes its read and leaves first, so no RCU-only reader is
   * ever on a table that munmap or exit frees: only PT reclaim, under the mmap read lock, meets one.
   */
  mmapWriteLockWaitsForReaders(m: Machine, mm: MmId): void {
    for (const c of m.cpus) {
      const w = c.walker;
      if (w === null || w.kind !== 'pteOffsetMap' || w.mm !== mm) continue;
      mark(m, 'exit waited for a pte_offset_map() reader');
      this.pteUnmap(m, c.id);
    }
  }

  /** Every entry of the PTE table is none (the condition for reclaiming it). */
  tableIsEmpty(m: Machine, table: Pfn): boolean {
    return tableEntries(m, table).every((e) => e.kind === 'none');
  }
}
