import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte, Pte } from '../machine/pte';
import { addMm } from '../machine/create';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { folioTestAnon } from '../machine/files';
import { liveMms, mmAt, mmapLockOf, pmdAt, pmdLockOf, pmdStart, pteAt, setPmd, setPte } from '../machine/pgtable';
import { isZeroPfn } from '../machine/zeroPage';
import { mark } from '../machine/marks';
import type { OpResult } from '../result';
import { noop } from '../result';
import { TruncatePaths } from './truncate';
import type { KernelSteps } from '../machine/tasks';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import { lockAcquire, lockRelease } from '../machine/locks';
import { lockForkPtls, underPmdLock, unlockForkPtls, withLock } from '../machine/lockedCall';

/** fork(): duplicating an mm with copy-on-write semantics, one PTE at a time. */
export abstract class ForkPaths extends TruncatePaths {
  /**
   * Mirrors `dup_mmap()` (kernel/fork.c) → `copy_page_range()` (mm/memory.c): a new mm with the
   * parent's page tables copied COW, then `flush_tlb_mm(oldmm)` — there is no per-PTE flush in
   * fork; the parent's writable TLB entries live until that one flush. A no-op at maxMms.
   */
  dupMmap(m: Machine, parent: MmId): OpResult {
    return runToEnd(this.dupMmapSteps(m, parent));
  }

  /**
   * `dupMmap()` with its preemption points (issue 11, docs/concurrency.md). fork holds the
   * parent's `mmap_lock` for write for the whole copy, so every op on the parent (and on the child,
   * which no one can reach before fork returns) waits; GUP-fast and hardware accesses on other
   * CPUs do not. `copy_page_range()` makes `mm->write_protect_seq` odd for the copy
   * (`raw_write_seqcount_begin()` … `_end()`, mm/memory.c 6.12; the model has one VMA). Points:
   * inside `copy_present_ptes()` between sharing a page and write-protecting the parent's PTE
   * ('fork: page shared, parent PTE not yet write-protected', one per shared PTE), after each
   * PMD slot ('fork: table copied, PTLs dropped'), and before `flush_tlb_mm(oldmm)` ('fork: before
   * flush_tlb_mm()'). The reference has no flush of its own until then either: fork never flushed
   * per PTE, so both kernels owe the same flush at every point. Locks (locks.ts): the parent's
   * `mmap_lock` for write, the child's nested (`mmap_write_lock_nested()`), released after
   * `flush_tlb_mm()`; per slot the child's PTL then the parent's, nested (`copyPteRangeSteps()`).
   */
  *dupMmapSteps(m: Machine, parent: MmId): KernelSteps<OpResult> {
    if (liveMms(m).length >= m.geometry.maxMms) return noop('too many mms');
    lockAcquire(m, mmapLockOf(parent, 'write')); // mmap_write_lock_killable(oldmm)
    const child = addMm(m).id;
    lockAcquire(m, mmapLockOf(child, 'write'), { nested: true }); // mmap_write_lock_nested(mm, SINGLE_DEPTH_NESTING)
    const src = mmAt(m, parent);
    mmAt(m, child).vmaWritable.splice(0, src.vmaWritable.length, ...src.vmaWritable);
    // dup_mmap() copies every VMA: the child maps the same file ranges (vm_area_dup()).
    if (src.vmaFile !== undefined) mmAt(m, child).vmaFile = [...src.vmaFile];
    this.writeProtectSeqBegin(m, parent);
    for (let i = 0; i < m.geometry.pmdsPerMm; i++) {
      const pmd = pmdAt(m, parent, i);
      if (pmd.kind === 'none') continue;
      // copy_huge_pmd(): pmd_lock(dst_mm) then the source's with spin_lock_nested().
      const huge = pmd.kind === 'leaf' && underPmdLock(m, child, i, () => withLock(m, pmdLockOf(parent, i), () => this.copyHugePmd(m, parent, child, i), { nested: true }));
      if (!huge) {
        if (overriddenBelow(this, 'copyPteRangeSteps', 'copyPteRange')) this.copyPteRange(m, parent, child, i);
        else yield* this.copyPteRangeSteps(m, parent, child, i);
      }
      yield 'fork: table copied, PTLs dropped';
    }
    this.writeProtectSeqEnd(m, parent);
    yield 'fork: before flush_tlb_mm()';
    this.flushTlbMm(m, parent);
    lockRelease(m, mmapLockOf(child, 'write'));
    lockRelease(m, mmapLockOf(parent, 'write'));
    return { kind: 'forked', child };
  }

  /**
   * Mirrors `copy_page_range()` (mm/memory.c, 6.12) for a COW mapping, before the copy:
   * `mmap_assert_write_locked(src_mm); raw_write_seqcount_begin(&src_mm->write_protect_seq);` —
   * the count turns odd, so GUP-fast with FOLL_PIN takes nothing until the copy is done.
   */
  writeProtectSeqBegin(m: Machine, mm: MmId): void {
    mmAt(m, mm).writeProtectSeq++;
  }

  /** Mirrors `copy_page_range()` (mm/memory.c, 6.12) after the copy: `raw_write_seqcount_end(&src_mm->write_protect_seq)`. */
  writeProtectSeqEnd(m: Machine, mm: MmId): void {
    mmAt(m, mm).writeProtectSeq++;
  }

  /**
   * Mirrors `vma_needs_copy()` (mm/memory.c, 6.12) for the VMA of (parent, v): a MAP_SHARED file
   * VMA has no anon_vma (nor VM_PFNMAP, nor uffd-wp), so `copy_page_range()` copies nothing there
   * and the child faults its pages in from the page cache; the anonymous VMA is copied.
   * Simplified: a MAP_PRIVATE file VMA is always copied, as if it had an anon_vma (the kernel
   * skips one that never had a COW fault, whose pages the child then faults in from the page
   * cache — the same pages, read-only).
   */
  vmaNeedsCopy(m: Machine, parent: MmId, v: Vpn): boolean {
    return this.fileVmaOf(m, parent, v)?.shared !== true;
  }

  /**
   * Mirrors `copy_huge_pmd()` (mm/huge_memory.c): one reference and one entire mapping for the
   * child's PMD, both PMDs write-protected. If the folio may be pinned and is exclusive, split
   * the parent's PMD and return false so the caller copies per PTE (-EAGAIN fallback).
   */
  copyHugePmd(m: Machine, parent: MmId, child: MmId, i: number): boolean {
    const pmd = pmdAt(m, parent, i);
    if (pmd.kind !== 'leaf') return false;
    this.folioGet(m, pmd.pfn);
    if (!this.folioTryDupAnonRmapPmd(m, parent, pmd.pfn, child)) {
      this.folioPut(m, pmd.pfn);
      this.splitHugePmd(m, parent, i);
      return false;
    }
    setPmd(m, parent, i, { ...pmd, writable: false });
    setPmd(m, child, i, { ...pmd, writable: false, young: false });
    return true;
  }

  /** Mirrors `copy_pte_range()` (mm/memory.c), one present PTE at a time. */
  copyPteRange(m: Machine, parent: MmId, child: MmId, i: number): void {
    runToEnd(this.copyPteRangeSteps(m, parent, child, i));
  }

  /** `copyPteRange()` with the point inside each `copyPresentPteSteps()`. */
  *copyPteRangeSteps(m: Machine, parent: MmId, child: MmId, i: number): KernelSteps {
    underPmdLock(m, child, i, () => this.pteAlloc(m, child, i)); // pte_alloc_map_lock(): pmd_install() under pmd_lock()
    const locks = lockForkPtls(m, parent, child, i);
    const base = pmdStart(m, i);
    for (let k = 0; k < m.geometry.ptrsPerPte; k++) {
      const v = asVpn(base + k);
      if (!this.vmaNeedsCopy(m, parent, v)) continue;
      const pte = pteAt(m, parent, v);
      if (pte !== null && pte.kind === 'swap') this.copyNonpresentPte(m, parent, child, v, pte);
      if (pte === null || pte.kind !== 'present') continue;
      if (overriddenBelow(this, 'copyPresentPteSteps', 'copyPresentPte')) this.copyPresentPte(m, parent, child, v, pte);
      else yield* this.copyPresentPteSteps(m, parent, child, v, pte);
    }
    unlockForkPtls(m, locks);
  }

  /**
   * Mirrors the single-PTE path of `copy_present_ptes()` (mm/memory.c, 6.12): reference before
   * mapcount; if `folio_try_dup_anon_rmap_pte()` fails (maybe pinned and exclusive) the child
   * gets its own copy now and the parent's PTE, exclusivity and pin stay untouched. The shared
   * zero page (`vm_normal_page()` NULL → `goto copy_pte`) is copied as an entry and nothing is
   * counted (`__copy_present_ptes()`: R/O already, old in the child).
   */
  copyPresentPte(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: PresentPte): void {
    runToEnd(this.copyPresentPteSteps(m, parent, child, v, pte));
  }

  /**
   * `copyPresentPte()` with its point: once `folio_try_dup_anon_rmap_pte()` shared the page, and
   * before the parent's PTE is write-protected, GUP-fast on another CPU may read the still
   * writable PTE ('fork: page shared, parent PTE not yet write-protected').
   */
  *copyPresentPteSteps(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: PresentPte): KernelSteps {
    if (isZeroPfn(m, pte.pfn)) {
      setPte(m, child, v, { ...pte, writable: false, young: false });
      mark(m, 'fork copied a zero-page PTE');
      return;
    }
    const head = folioHead(m, pte.pfn);
    this.folioGet(m, head);
    if (!folioTestAnon(folioAt(m, head))) {
      // A page-cache page of a MAP_PRIVATE mapping: `folio_dup_file_rmap_pte()`; its PTE is
      // read-only already (a store copies it), so nothing is write-protected.
      this.folioDupFileRmapPtes(m, pte.pfn, 1, child);
      setPte(m, child, v, { ...pte, writable: false, young: false });
      mark(m, 'fork shared a page-cache page of a private mapping');
      return;
    }
    if (!this.folioTryDupAnonRmapPtes(m, parent, pte.pfn, 1, child)) {
      this.folioPut(m, head);
      this.copyPresentPage(m, child, v, pte);
      return;
    }
    yield 'fork: page shared, parent PTE not yet write-protected';
    // wrprotect_ptes() clears the write bit of the PTE as it is now (a hardware access in the
    // window may have set its dirty bit).
    const now = pteAt(m, parent, v);
    if (pte.writable && now !== null && now.kind === 'present' && now.writable) setPte(m, parent, v, { ...now, writable: false });
    setPte(m, child, v, { ...pte, writable: false, young: false });
  }

  /**
   * Mirrors the swap-entry branch of `copy_nonpresent_pte()` (mm/memory.c, 6.12): the child gets
   * the same entry (`swap_duplicate()`: one more count on the slot), and an exclusive entry
   * stops being exclusive in the parent and the child (`pte_swp_clear_exclusive()`): the page is
   * shared now, so whoever swaps it in first must not map it writable without a COW check.
   */
  copyNonpresentPte(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: Extract<Pte, { kind: 'swap' }>): void {
    this.swapDuplicate(m, pte.slot);
    const shared = { ...pte, exclusive: false };
    if (pte.exclusive) setPte(m, parent, v, shared);
    setPte(m, child, v, shared);
  }

  /**
   * Mirrors `copy_present_page()` (mm/memory.c): the child gets a new exclusive page with the
   * same content, mapped dirty and writable if the VMA allows it.
   */
  copyPresentPage(m: Machine, child: MmId, v: Vpn, pte: PresentPte): void {
    const page = this.allocFolio(m, 0);
    frameAt(m, page).content = frameAt(m, pte.pfn).content;
    m.stats.pagesCopied++;
    this.folioAddAnonRmapPtes(m, page, 1, true, child);
    const writable = mmAt(m, child).vmaWritable[v] ?? false;
    setPte(m, child, v, { kind: 'present', pfn: page, writable, dirty: true, young: true });
  }
}
