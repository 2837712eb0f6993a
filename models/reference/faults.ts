import { folioNrPages } from '../machine/geometry';
import type { CpuId, MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte, Pte } from '../machine/pte';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { mmAt, mmapLockOf, pmdAt, pmdIndexOf, pmdStart, pteAt, ptlOf, setPmd, setPte } from '../machine/pgtable';
import { asHardware, lockAcquire, lockRelease, ownPtls } from '../machine/locks';
import { underPmdLock, underPtl } from '../machine/lockedCall';
import { switchMm, tlbFill, tlbInvalidateLocal } from '../machine/tlb';
import { accessThroughTlb } from '../machine/userAccess';
import { mark } from '../machine/marks';
import { isZeroPfn, myZeroPfn } from '../machine/zeroPage';
import type { OpResult } from '../result';
import { noop } from '../result';
import { FilemapPaths } from './filemap';
import { migrationInFlight, overriddenBelow, runToEnd, WaitForMigration } from '../machine/tasks';
import type { KernelSteps, PreemptPoint } from '../machine/tasks';
import { pteSame } from '../machine/pte';
import { folioTestAnon, rangeHasFileVma } from '../machine/files';

/** How many attempts of a store task may pass a point (and so may have been raced) before it gives up. */
const RACED_ATTEMPTS = 64;

/** Run `steps` to its end, passing its points on; returns how many it passed. */
function* countPoints(steps: KernelSteps): Generator<PreemptPoint, number, void> {
  let n = 0;
  for (;;) {
    const r = steps.next();
    if (r.done === true) return n;
    n++;
    yield r.value;
  }
}

/** Why the kernel is handling a fault: a load, a store, or GUP's FAULT_FLAG_UNSHARE for an R/O pin. */
export type FaultKind = 'read' | 'write' | 'unshare';

/**
 * Populating memory and handling faults: anonymous faults, COW (reuse or copy), unsharing for
 * R/O pins, and the PMD-level write fault.
 */
export abstract class FaultPaths extends FilemapPaths {
  /**
   * A user load or store by `cpu` to (mm, v): the TLB first, then a hardware walk, then a fault,
   * then the access again. A store the VMA does not permit gets SIGSEGV. Stands for the MMU plus
   * `handle_mm_fault()` (mm/memory.c); no kernel function of its own.
   */
  userAccess(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, write: boolean, value: number): OpResult {
    switchMm(m, cpu, mm); // switch_mm_irqs_off(): the access runs in a task of this mm
    for (let attempt = 0; attempt < 3; attempt++) {
      const hw = accessThroughTlb(m, cpu, mm, v, write, value);
      if (hw.kind === 'hit') return { kind: 'value', value: hw.value };
      if (this.hardwareWalk(m, cpu, mm, v, write)) continue;
      // A page fault invalidates the faulting CPU's TLB entry for the address (Intel SDM vol. 3
      // §4.10.4.1), which is why x86's flush_tlb_fix_spurious_fault() has nothing to do.
      tlbInvalidateLocal(m, cpu, mm, v);
      if (write && !mmAt(m, mm).vmaWritable[v]) return { kind: 'segv' };
      this.handleMmFault(m, cpu, mm, v, write ? 'write' : 'read');
    }
    this.warnOn(m, true, `access to mm ${mm} vpn ${v} still faults after handling`);
    return noop('unreachable');
  }

  /**
   * `userAccess()` as a task (issue 11, docs/concurrency.md): the same steps, but a fault on an
   * empty PTE (a load's or a store's) goes through `doAnonymousPageSteps()`, which stops between
   * reading the PTE and taking the PTL, and a store's on a present read-only PTE through `doWpPageSteps()`, whose
   * COW copy stops between the copy and retaking the PTL. Every other fault — or one whose plain
   * method a variant overrides below its twin — is the plain `handleMmFault()`. Returns what the
   * access returned. The kernel retries a fault that backed off for as long as it takes; here
   * five attempts that passed no point, and up to RACED_ATTEMPTS that did.
   */
  *userAccessSteps(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, write: boolean, value: number): Generator<PreemptPoint, OpResult, void> {
    switchMm(m, cpu, mm);
    // An attempt whose fault passed a point may have been raced and backed off: it does not count
    // towards the bound of five, since each race costs the schedule an op of its own (a cap of
    // RACED_ATTEMPTS keeps a kernel that never makes progress from looping). Run whole, a fault
    // that passes a point never backs off (nothing runs inside it), so this is the plain loop.
    for (let attempt = 0, raced = 0; attempt < 5 && raced < RACED_ATTEMPTS; ) {
      const hw = accessThroughTlb(m, cpu, mm, v, write, value);
      if (hw.kind === 'hit') return { kind: 'value', value: hw.value };
      if (this.hardwareWalk(m, cpu, mm, v, write)) {
        attempt++;
        continue;
      }
      tlbInvalidateLocal(m, cpu, mm, v);
      if (write && !mmAt(m, mm).vmaWritable[v]) return { kind: 'segv' };
      const ro = write ? this.faultFindsPteReadOnly(m, mm, v) : null;
      let passed = 0;
      // lock_mm_and_find_vma(): mmap_lock for read around the fault (the per-VMA lock is not modelled).
      lockAcquire(m, mmapLockOf(mm, 'read'));
      if (this.faultFindsPteNone(m, mm, v) && this.fileVmaOf(m, mm, v) === null && !overriddenBelow(this, 'doAnonymousPageSteps', 'doAnonymousPage')) {
        passed = yield* countPoints(this.doAnonymousPageSteps(m, mm, v, write));
      } else if (ro !== null && !overriddenBelow(this, 'doWpPageSteps', 'doWpPage')) {
        // handle_pte_fault(): FAULT_FLAG_WRITE on a present, read-only PTE → do_wp_page().
        passed = yield* countPoints(this.doWpPageSteps(m, cpu, mm, v, ro, false));
      } else ownPtls(m, () => this.handleMmFault(m, cpu, mm, v, write ? 'write' : 'read'));
      lockRelease(m, mmapLockOf(mm, 'read'));
      if (passed > 0) raced++;
      else attempt++;
    }
    this.warnOn(m, true, `access to mm ${mm} vpn ${v} still faults after handling`);
    return noop('unreachable');
  }

  /** Would `handleMmFault()` take (mm, v) to `do_anonymous_page()` (no PMD leaf or migration entry, an empty PTE)? */
  faultFindsPteNone(m: Machine, mm: MmId, v: Vpn): boolean {
    const pmd = pmdAt(m, mm, pmdIndexOf(m, v));
    if (pmd.kind === 'leaf' || pmd.kind === 'migration') return false;
    const pte = pteAt(m, mm, v);
    return pte === null || pte.kind === 'none';
  }

  /**
   * The PTE `handleMmFault()` would hand to `do_wp_page()` for a store to (mm, v): present and
   * read-only, under a PTE table (no PMD leaf or migration entry). Null otherwise.
   */
  faultFindsPteReadOnly(m: Machine, mm: MmId, v: Vpn): PresentPte | null {
    if (pmdAt(m, mm, pmdIndexOf(m, v)).kind !== 'table') return null;
    const pte = pteAt(m, mm, v);
    return pte !== null && pte.kind === 'present' && !pte.writable ? pte : null;
  }

  /**
   * `doAnonymousPage()` with its preemption point (mm/memory.c, 6.12): the fault saw
   * `vmf->orig_pte` none without the PTL. A store allocates its page ('fault: page allocated,
   * before the PTL'; so does a load where the machine has no zero page); a load with the zero
   * page builds the special entry (`pte_mkspecial(pfn_pte(my_zero_pfn()))`, 'fault: zero-page
   * entry made, before the PTL'). Then it takes the PTL and rechecks `vmf_pte_changed()`: if
   * another CPU's fault (or anything else) filled the PTE meanwhile — or the table went
   * (`pte_offset_map_lock()` fails) — it releases its page (if any) and returns 0, and the access
   * is retried. Locks: the PMD lock around `pte_alloc()` (`pmd_install()`), the PTL from the
   * recheck to `set_pte_at()`; the caller holds `mmap_lock` for read.
   */
  *doAnonymousPageSteps(m: Machine, mm: MmId, v: Vpn, write = true): Generator<PreemptPoint, void, void> {
    const i = pmdIndexOf(m, v);
    underPmdLock(m, mm, i, () => this.pteAlloc(m, mm, i)); // pte_alloc(): pmd_install() under pmd_lock()
    const zero = write ? null : myZeroPfn(m);
    const page = zero === null ? this.allocFolio(m, 0) : null;
    yield page === null ? 'fault: zero-page entry made, before the PTL' : 'fault: page allocated, before the PTL';
    const ptl = ptlOf(m, mm, i); // pte_offset_map_lock(): NULL when the table went meanwhile
    if (ptl !== null) lockAcquire(m, ptl);
    if (ptl === null || this.vmfPteChanged(m, mm, v)) {
      if (ptl !== null) lockRelease(m, ptl);
      if (page !== null) this.folioPut(m, page); // release: folio_put()
      mark(m, 'fault backed off: another CPU changed the PTE (pte_same)');
      return;
    }
    if (zero !== null) {
      // x86's vm_page_prot has _PAGE_ACCESSED: the entry is young, clean and read-only.
      setPte(m, mm, v, { kind: 'present', pfn: zero, writable: false, dirty: false, young: true });
      mark(m, 'read fault mapped the zero page');
    } else if (page !== null) {
      this.folioAddAnonRmapPtes(m, page, 1, true, mm);
      setPte(m, mm, v, { kind: 'present', pfn: page, writable: write, dirty: write, young: true });
    }
    lockRelease(m, ptl); // pte_unmap_unlock()
  }

  /**
   * Mirrors `vmf_pte_changed()` (mm/memory.c, 6.12) for `do_anonymous_page()`, whose
   * `vmf->orig_pte` was none: the PTE is no longer none (`!pte_none(ptep_get(vmf->pte))`), or
   * its table is gone (`pte_offset_map_lock()` returned NULL: same `goto release`; the caller
   * has already backed off then).
   */
  vmfPteChanged(m: Machine, mm: MmId, v: Vpn): boolean {
    if (pmdAt(m, mm, pmdIndexOf(m, v)).kind !== 'table') return true;
    const pte = pteAt(m, mm, v);
    return pte === null || pte.kind !== 'none';
  }

  /**
   * The MMU's page walk on a TLB miss (or a store through a clean TLB entry): a present
   * translation that permits the access is cached with its dirty bit, after setting young, and
   * dirty for a store, in the entry. Returns false when the kernel must take a fault.
   */
  hardwareWalk(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, write: boolean): boolean {
    const i = pmdIndexOf(m, v);
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind === 'leaf') {
      if (write && !pmd.writable) return false;
      const dirty = pmd.dirty || write;
      if (!pmd.young || dirty !== pmd.dirty) asHardware(m, () => setPmd(m, mm, i, { ...pmd, young: true, dirty }));
      tlbFill(m, cpu, mm, v, asPfn(pmd.pfn + (v - pmdStart(m, i))), pmd.writable, dirty);
      return true;
    }
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind !== 'present' || (write && !pte.writable)) return false;
    const dirty = pte.dirty || write;
    if (!pte.young || dirty !== pte.dirty) asHardware(m, () => setPte(m, mm, v, { ...pte, young: true, dirty }));
    tlbFill(m, cpu, mm, v, pte.pfn, pte.writable, dirty);
    return true;
  }

  /**
   * Mirrors `handle_mm_fault()` → `handle_pte_fault()` (mm/memory.c), private anonymous memory
   * and MAP_SHARED file mappings (files.ts): on a PMD migration entry `__handle_mm_fault()` calls `pmd_migration_entry_wait()` and
   * returns 0, so the access is retried once the migration has ended (GUP's slow path gets there
   * too: `follow_pmd_mask()` finds the PMD not present and faults); a PTE migration entry goes the
   * same way through `do_swap_page()` → `migration_entry_wait()` (`migrationEntryWait()`).
   */
  handleMmFault(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, kind: FaultKind): void {
    const i = pmdIndexOf(m, v);
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind === 'migration') {
      this.migrationEntryWait(m, mm, v, 'PMD');
      return;
    }
    if (pmd.kind === 'leaf') {
      if (kind === 'read' || (kind === 'write' && pmd.writable)) return;
      if (this.doHugePmdWpPage(m, mm, i, kind)) return;
      // VM_FAULT_FALLBACK: the PMD was split; handle the fault at PTE level.
    }
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind === 'none') {
      // do_pte_missing(): a file VMA's fault is do_fault() (do_read_fault(); for a store,
      // do_shared_fault() in a MAP_SHARED mapping, do_cow_fault() in a MAP_PRIVATE one); the
      // anonymous one's do_anonymous_page().
      const vf = this.fileVmaOf(m, mm, v);
      if (vf !== null) {
        if (kind === 'read') this.doReadFault(m, mm, v, vf);
        else if (kind === 'write' && vf.shared) this.doSharedFault(m, mm, v, vf);
        else if (kind === 'write') this.doCowFault(m, mm, v, vf);
      } else if (kind !== 'unshare') this.doAnonymousPage(m, mm, v, kind === 'write');
      return;
    }
    if (pte.kind === 'migration') {
      this.migrationEntryWait(m, mm, v, 'PTE');
      return;
    }
    if (pte.kind === 'swap') {
      this.doSwapPage(m, cpu, mm, v, pte, kind);
      return;
    }
    this.warnOn(m, pte.kind !== 'present', `fault on a ${pte.kind} PTE`);
    if (pte.kind !== 'present') return;
    if (kind === 'read' || (kind === 'write' && pte.writable)) return;
    this.doWpPage(m, cpu, mm, v, pte, kind === 'unshare');
  }

  /**
   * Mirrors `migration_entry_wait()` (mm/migrate.c, 6.12; reached from `do_swap_page()` for a PTE
   * migration entry) and `pmd_migration_entry_wait()` (from `__handle_mm_fault()`): sleep until
   * the folio under migration is unlocked, then return 0 so the access is retried. Only a
   * migration task in flight (issue 11, docs/concurrency.md) leaves a migration entry behind
   * across ops: the wait is the runner's (`WaitForMigration`: it completes the migration, then
   * runs the op again). Outside one, meeting an entry is a kernel bug, reported as a warning.
   */
  migrationEntryWait(m: Machine, mm: MmId, v: Vpn, level: 'PTE' | 'PMD'): void {
    if (migrationInFlight(m.cpus)) {
      mark(m, 'fault waited for a migration entry');
      throw new WaitForMigration(mm, v);
    }
    this.warnOn(m, true, `fault on a ${level} migration entry (mm ${mm}, vpn ${v}) outside a migration`);
  }

  /**
   * Mirrors `do_anonymous_page()` (mm/memory.c, 6.12): a read fault maps the shared zero page
   * where the machine has one, anything else gets a new exclusive order-0 page. The zero page
   * (createMachine's `zeroPage` option): `!(vmf->flags & FAULT_FLAG_WRITE) &&
   * !mm_forbids_zeropage()` → a special, read-only PTE to `my_zero_pfn()`, with no folio, no rmap
   * and no reference; a later store copies from it (`doWpPage()` → `wpPageCopy()`). There is no huge zero page:
   * the model's THP faults come only from the map and populate ops, never from a read fault.
   *
   * Simplified (row 24) when the option is off: a read fault gets a private zeroed page mapped
   * read-only, which a later store reuses (it is exclusive) rather than copying
   * (properties/lowRows.test.ts).
   */
  doAnonymousPage(m: Machine, mm: MmId, v: Vpn, write: boolean): void {
    this.pteAlloc(m, mm, pmdIndexOf(m, v));
    const zero = write ? null : myZeroPfn(m);
    if (zero !== null) {
      // x86's vm_page_prot has _PAGE_ACCESSED: the entry is young, clean and read-only.
      setPte(m, mm, v, { kind: 'present', pfn: zero, writable: false, dirty: false, young: true });
      mark(m, 'read fault mapped the zero page');
      return;
    }
    const page = this.allocFolio(m, 0);
    this.folioAddAnonRmapPtes(m, page, 1, true, mm);
    setPte(m, mm, v, { kind: 'present', pfn: page, writable: write, dirty: write, young: true });
  }

  /**
   * Mirrors `do_wp_page()` (mm/memory.c, 6.12) for a private anonymous page: an exclusive page is
   * reused without further checks, otherwise `wp_can_reuse_anon_folio()` decides, otherwise the
   * page is copied. For an unshare fault (R/O pin) a reused page stays read-only. The shared zero
   * page has no folio (`vm_normal_page()` is NULL), so it is never reused: `wp_page_copy()` with no
   * old folio, for a store and for an unshare alike.
   */
  doWpPage(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte, unshare: boolean): void {
    runToEnd(this.doWpPageSteps(m, cpu, mm, v, pte, unshare));
  }

  /**
   * `doWpPage()` with the preemption point of its COW copy (issue 11, docs/concurrency.md); the
   * plain method runs it to its end. A variant that hooks `do_wp_page()` (MIGRC's give-up)
   * overrides this twin, so the hook runs whether the fault is a task or not. A reuse passes no
   * point. `pte` is `vmf->orig_pte`.
   */
  *doWpPageSteps(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte, unshare: boolean): KernelSteps {
    // `if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) return wp_page_shared(vmf, folio);` — an
    // unshare fault never gets here for a file page (`gup_must_unshare()` is false for it).
    if (this.fileVmaOf(m, mm, v)?.shared === true) {
      if (!unshare) this.wpPageShared(m, cpu, mm, v, pte);
      return;
    }
    if (isZeroPfn(m, pte.pfn)) {
      yield* this.wpPageCopyVia(m, mm, v, pte, unshare);
      return;
    }
    const head = folioHead(m, pte.pfn);
    const page = frameAt(m, pte.pfn);
    // A page-cache page of a MAP_PRIVATE mapping is never reused (`folio_test_anon()` fails): it
    // is copied.
    const anon = folioTestAnon(folioAt(m, head));
    // handle_pte_fault() calls do_wp_page() under the PTE's PTL: the reuse happens under it, the
    // copy drops it first (`pte_unmap_unlock()` before `wp_page_copy()`).
    const reused = underPtl(m, mm, pmdIndexOf(m, v), () => {
      if (!anon || (!page.anonExclusive && !this.wpCanReuseAnonFolio(m, head, mm))) {
        this.folioGet(m, head); // held across the copy, dropped at its end
        return false;
      }
      page.anonExclusive = true;
      if (!unshare) this.wpPageReuse(m, cpu, mm, v, pte);
      return true;
    });
    if (!reused) yield* this.wpPageCopyVia(m, mm, v, pte, unshare);
  }

  /** The copy through its twin, or through the plain `wpPageCopy()` when a variant overrides that below the twin (no point then). */
  private *wpPageCopyVia(m: Machine, mm: MmId, v: Vpn, old: PresentPte, unshare: boolean): KernelSteps {
    if (overriddenBelow(this, 'wpPageCopySteps', 'wpPageCopy')) this.wpPageCopy(m, mm, v, old, unshare);
    else yield* this.wpPageCopySteps(m, mm, v, old, unshare);
  }

  /**
   * Mirrors `wp_can_reuse_anon_folio()` (mm/memory.c, 6.12): never a large folio; otherwise reuse
   * only when the mapping holds the sole reference (refcount == 1), which also rules out pins. A
   * folio in the swap cache may hold one more, the cache's (`folio_ref_count(folio) > 1 +
   * folio_test_swapcache(folio)` fails first); then `folio_free_swap()` tries to drop it, which
   * works only when no swap PTE refers to the page any more. KSM and the LRU-add batch reference
   * are not modelled. `mm` is the faulting mm (`vma->vm_mm`), which 6.15's large-folio rule needs
   * (reference-6.15).
   */
  wpCanReuseAnonFolio(m: Machine, head: Pfn, _mm: MmId): boolean {
    const f = folioAt(m, head);
    if (f.order > 0) return false;
    if (f.refcount > 1 + (f.swap !== null ? 1 : 0)) return false;
    if (f.swap !== null) this.folioFreeSwap(m, head);
    return f.refcount === 1;
  }

  /**
   * Mirrors `do_swap_page()` (mm/memory.c, 6.12) for a swap entry `orig` at (mm, v): find the page
   * in the swap cache or read it in (`swapin_readahead()`: a new order-0 folio in the swap cache),
   * then under the PTL: drop the entry's count (`swap_free_nr()`), let the swap cache go if the
   * page will likely be ours alone (`should_try_to_free_swap()`), and map the page. It is mapped
   * exclusive — and writable, dirty for a store, when the VMA allows writing — if the entry was
   * exclusive (`pte_swp_exclusive()`) or the fault holds the only reference
   * (`folio_ref_count() == 1`); otherwise read-only and shared, and a store goes on to
   * `do_wp_page()`. The fault's reference becomes the mapping's.
   * Simplified: only the faulting page is mapped (6.12 maps a whole large folio found in the swap
   * cache when every PTE of its range still holds its entries; the model maps it page by page, as
   * 6.12 does whenever they do not), and the swap device is not SWP_SYNCHRONOUS_IO, so a page
   * read in always goes through the swap cache (`folio != swapcache` never holds).
   */
  doSwapPage(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, orig: Extract<Pte, { kind: 'swap' }>, kind: FaultKind): void {
    const page = this.swapCacheGetPage(m, orig.slot) ?? this.readSwapCacheAsync(m, orig.slot);
    const head = folioHead(m, page);
    const f = folioAt(m, head);
    this.swapFreeNr(m, orig.slot, 1);
    if (this.shouldTryToFreeSwap(m, head, kind === 'write')) this.folioFreeSwap(m, head);
    let writable = false;
    let dirty = false;
    let exclusive = false;
    if (orig.exclusive || f.refcount === 1) {
      writable = mmAt(m, mm).vmaWritable[v] ?? false;
      dirty = writable && kind === 'write';
      exclusive = true;
    }
    this.folioAddAnonRmapPtes(m, page, 1, exclusive, mm);
    const pte: PresentPte = { kind: 'present', pfn: page, writable, dirty, young: true };
    setPte(m, mm, v, pte);
    mark(m, f.swap !== null ? 'swap-in mapped a swap-cache page' : 'swap-in freed the swap cache');
    if (kind === 'write' && !dirty) this.doWpPage(m, cpu, mm, v, pte, false);
  }

  /**
   * Mirrors `should_try_to_free_swap()` (mm/memory.c, 6.12): a folio in the swap cache is worth
   * taking out of it when a store will want to map it writable and the refcount says the fault
   * and the swap cache hold all references (`folio_ref_count() == 1 + folio_nr_pages()`).
   * Simplified: the swap device is never half full (`mem_cgroup_swap_full()`) and nothing is
   * mlocked, so only the store case applies.
   */
  shouldTryToFreeSwap(m: Machine, head: Pfn, write: boolean): boolean {
    const f = folioAt(m, head);
    if (f.swap === null) return false;
    return write && f.refcount === 1 + folioNrPages(f.order);
  }

  /**
   * Mirrors `wp_page_reuse()` (mm/memory.c): make the PTE writable in place. An upgrade needs no
   * flush (rule R4 (docs/kernel-semantics.md §10)); only the faulting CPU's read-only entry is replaced.
   */
  wpPageReuse(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte): void {
    setPte(m, mm, v, { ...pte, writable: true, dirty: true, young: true });
    tlbInvalidateLocal(m, cpu, mm, v);
  }

  /**
   * Mirrors `wp_page_copy()` (mm/memory.c, 6.12); runs `wpPageCopySteps()` to its end.
   */
  wpPageCopy(m: Machine, mm: MmId, v: Vpn, old: PresentPte, unshare: boolean): void {
    runToEnd(this.wpPageCopySteps(m, mm, v, old, unshare));
  }

  /**
   * `wp_page_copy()` (mm/memory.c, 6.12) with its preemption point: `do_wp_page()` dropped the
   * PTL, so the new page is allocated and the old one copied into it (`__wp_page_copy_user()`)
   * unlocked; then ('fault: COW page copied, before the PTL') it retakes the PTL
   * (`pte_offset_map_lock()`) and rechecks `pte_same(ptep_get(vmf->pte), vmf->orig_pte)`. If
   * the PTE changed meanwhile (another CPU's fault, a zap) or its table is gone, it frees the new
   * page, drops the caller's reference on the old one and returns 0: the access is retried.
   * Otherwise `ptep_clear_flush()` flushes the old translation from every TLB *before* the new
   * PTE is set (one view per address), and the old page loses its mapcount only after the switch;
   * the old folio's mapping reference and the caller's temporary one are dropped. From the shared
   * zero page (`is_zero_pfn(pte_pfn(vmf->orig_pte))`) the new page is allocated zeroed
   * (`vma_alloc_zeroed_movable_folio()`), nothing is copied, and there is no old folio whose rmap
   * or references to drop.
   */
  *wpPageCopySteps(m: Machine, mm: MmId, v: Vpn, old: PresentPte, unshare: boolean): KernelSteps {
    const fromZero = isZeroPfn(m, old.pfn);
    const oldHead = folioHead(m, old.pfn);
    const page = this.allocFolio(m, 0);
    if (!fromZero) {
      frameAt(m, page).content = frameAt(m, old.pfn).content;
      m.stats.pagesCopied++;
    }
    yield 'fault: COW page copied, before the PTL';
    const ptl = ptlOf(m, mm, pmdIndexOf(m, v)); // pte_offset_map_lock(): NULL when the table went
    if (ptl !== null) lockAcquire(m, ptl);
    if (ptl === null || !this.wpPteSame(m, mm, v, old)) {
      if (ptl !== null) lockRelease(m, ptl);
      this.folioPut(m, page); // folio_put(new_folio)
      if (!fromZero) this.folioPut(m, oldHead); // folio_put(old_folio): the caller's reference
      mark(m, 'COW fault backed off: another CPU changed the PTE (pte_same)');
      return;
    }
    setPte(m, mm, v, { kind: 'none' });
    this.flushTlbPage(m, mm, v);
    this.folioAddAnonRmapPtes(m, page, 1, true, mm);
    setPte(m, mm, v, { kind: 'present', pfn: page, writable: !unshare, dirty: !unshare, young: true });
    if (!fromZero) this.folioRemoveRmapPtes(m, old.pfn, 1, mm);
    lockRelease(m, ptl); // pte_unmap_unlock()
    if (fromZero) {
      mark(m, unshare ? 'unshare fault copied from the zero page' : 'write fault copied from the zero page');
      return;
    }
    this.folioPut(m, oldHead); // the old mapping's reference
    this.folioPut(m, oldHead); // the caller's temporary reference
  }

  /**
   * Mirrors the recheck of `wp_page_copy()` (mm/memory.c, 6.12) once it has retaken the PTL:
   * `pte_same(ptep_get(vmf->pte), vmf->orig_pte)` — false when the entry differs in any bit (x86
   * compares the whole entry, accessed and dirty bits included). The caller has already backed
   * off when the table is gone (`vmf->pte` NULL).
   */
  wpPteSame(m: Machine, mm: MmId, v: Vpn, orig: PresentPte): boolean {
    if (pmdAt(m, mm, pmdIndexOf(m, v)).kind !== 'table') return false;
    const pte = pteAt(m, mm, v);
    return pte !== null && pteSame(pte, orig);
  }

  /**
   * Mirrors `do_huge_pmd_wp_page()` (mm/huge_memory.c): reuse a PMD-mapped folio that is
   * exclusive or solely referenced; otherwise split the PMD and return false (VM_FAULT_FALLBACK)
   * so the fault is handled per PTE.
   */
  doHugePmdWpPage(m: Machine, mm: MmId, i: number, kind: FaultKind): boolean {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf') return false;
    const head = frameAt(m, pmd.pfn);
    const f = folioAt(m, pmd.pfn);
    if (head.anonExclusive || f.refcount === 1) {
      head.anonExclusive = true;
      if (kind === 'write') setPmd(m, mm, i, { ...pmd, writable: true, dirty: true, young: true });
      return true;
    }
    this.splitHugePmd(m, mm, i);
    return false;
  }

  /**
   * Mirrors `populate_vma_page_range()` (mm/gup.c): MAP_POPULATE faulting every page of
   * [start, end) with folios of `order`: each folio-aligned chunk that lies wholly inside the
   * range and is not populated yet gets a new folio, PMD-mapped when it is PMD-sized and the PMD
   * slot is free, PTE-mapped otherwise. `done` if it mapped anything, else a no-op.
   */
  populateRange(m: Machine, mm: MmId, start: Vpn, end: Vpn, order: number): OpResult {
    const nr = folioNrPages(order);
    let mapped = 0;
    for (let base = Math.ceil(start / nr) * nr; base + nr <= end; base += nr) {
      const pmd = order === m.geometry.maxFolioOrder && pmdAt(m, mm, pmdIndexOf(m, asVpn(base))).kind === 'none';
      if (this.mapAnonFolio(m, mm, asVpn(base), order, pmd, 0, nr).kind === 'done') mapped++;
    }
    return mapped > 0 ? { kind: 'done' } : noop('nothing to populate');
  }

  /**
   * Populate a new anonymous folio of `order` at `v` (aligned down to the folio size): PMD-mapped,
   * or PTE-mapped for pages [first, first+count) of it. Stands for a THP fault
   * (`do_huge_pmd_anonymous_page()`, or `do_anonymous_page()` with an mTHP order) followed, for a
   * partial mapping, by MADV_DONTNEED of the rest. A no-op when any target page is populated, and
   * when any page of the folio's range is not writable: the store fault it stands for would get
   * SIGSEGV there (`access_error()`), and its entries are writable. Simplified: MAP_POPULATE of a
   * read-only range (`populateRange()`) maps nothing, where the kernel's read faults would map it
   * read-only.
   */
  mapAnonFolio(m: Machine, mm: MmId, v: Vpn, order: number, pmdMapped: boolean, first: number, count: number): OpResult {
    const nr = folioNrPages(order);
    const base = v - (v % nr);
    const i = pmdIndexOf(m, asVpn(base));
    const writable = mmAt(m, mm).vmaWritable;
    for (let k = base; k < base + nr; k++) if (writable[k] !== true) return noop('folio range not writable (its store fault would fail)');
    if (rangeHasFileVma(m, mm, base, base + nr)) return noop('folio range is in a file mapping (an anonymous THP fault cannot happen there)');
    if (pmdMapped) {
      if (order !== m.geometry.maxFolioOrder) return noop('PMD mapping needs a PMD-order folio');
      if (pmdAt(m, mm, i).kind !== 'none') return noop('PMD slot in use');
      const head = this.allocFolio(m, order);
      this.folioAddAnonRmapPmd(m, head, true, mm);
      setPmd(m, mm, i, { kind: 'leaf', pfn: head, writable: true, dirty: true, young: true });
      return { kind: 'done' };
    }
    const lo = Math.min(first, nr - 1);
    const n = Math.max(1, Math.min(count, nr - lo));
    if (pmdAt(m, mm, i).kind === 'leaf') return noop('range is PMD-mapped');
    for (let k = lo; k < lo + n; k++) {
      const pte = pteAt(m, mm, asVpn(base + k));
      if (pte !== null && pte.kind !== 'none') return noop('range already populated');
    }
    this.pteAlloc(m, mm, i);
    const head = this.allocFolio(m, order);
    this.folioAddAnonRmapPtes(m, asPfn(head + lo), n, true, mm);
    if (n > 1) this.folioRefAdd(m, head, n - 1); // one reference per PTE; the allocation's is the first
    for (let k = lo; k < lo + n; k++) {
      setPte(m, mm, asVpn(base + k), { kind: 'present', pfn: asPfn(head + k), writable: true, dirty: true, young: true });
    }
    if (order > 1 && n < nr) this.deferredSplitFolio(m, head);
    return { kind: 'done' };
  }
}
