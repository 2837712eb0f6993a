import { switchMm } from '../machine/tlb';
import type { CpuId, HandleId, MmId, Pfn, Vpn } from '../machine/ids';
import { handleId as asHandleId, pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { GupHandle, GupPage, Machine } from '../machine/state';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { mmAt, mmapLockOf, pmdAt, pmdIndexOf, pmdStart, pteAt } from '../machine/pgtable';
import { lockAcquire, lockRelease, ownPtls } from '../machine/locks';
import type { OpResult } from '../result';
import { noop } from '../result';
import { isZeroPfn } from '../machine/zeroPage';
import { mark } from '../machine/marks';
import { GUP_PIN_COUNTING_BIAS } from './rmap';
import { MadvisePaths } from './madvise';
import type { PmdEntry, Pte } from '../machine/pte';
import { pmdSame, pteSame } from '../machine/pte';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import type { KernelSteps } from '../machine/tasks';

/** What a GUP caller asked for. */
export interface GupFlags {
  /** FOLL_PIN rather than FOLL_GET. */
  readonly pin: boolean;
  /** FOLL_WRITE. */
  readonly write: boolean;
  /** Try GUP-fast (lockless, IRQs off) first. */
  readonly fast: boolean;
}

/**
 * get_user_pages / pin_user_pages and their release. The reference takes one reference (or
 * pin) per page and releases one per page.
 */
export abstract class GupPaths extends MadvisePaths {
  /**
   * Mirrors `__get_user_pages()` / `gup_fast_fallback()` (mm/gup.c): GUP `nr` pages from `start`
   * into a new handle. GUP-fast takes what it can without faulting; the rest goes the slow way,
   * which faults pages in (breaking COW for FOLL_WRITE, unsharing for an R/O pin). Stops at the
   * first page it cannot get. A no-op at maxHandles.
   */
  getUserPages(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, nr: number, flags: GupFlags): OpResult {
    return runToEnd(this.getUserPagesSteps(m, cpu, mm, start, nr, flags));
  }

  /**
   * `getUserPages()` with the slow path's preemption points (issue 11, docs/concurrency.md): each
   * page the slow path must fault in passes 'gup: faulted, before the retried lookup'. The plain
   * method runs it to its end.
   */
  *getUserPagesSteps(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, nr: number, flags: GupFlags): KernelSteps<OpResult> {
    if (m.handles.length >= m.geometry.maxHandles) return noop('too many GUP handles');
    switchMm(m, cpu, mm); // switch_mm_irqs_off(): the access runs in a task of this mm
    if (flags.pin) mmAt(m, mm).hasPinned = true; // mm_set_has_pinned_flag(), before any pin
    const { start: s, end: top } = this.clipRange(m, start, nr);
    const end = this.gupEndBeforeFileVma(m, mm, s, top);
    const pages: GupPage[] = [];
    let fast = flags.fast;
    for (let v = s; v < end; v++) {
      let page: Pfn | null = fast ? this.gupFastFollow(m, mm, asVpn(v), flags) : null;
      if (page === null) {
        fast = false; // the rest goes through the slow path
        page = yield* this.followPageWithFaultVia(m, cpu, mm, asVpn(v), flags);
      }
      if (page === null) break;
      this.tryGrabFolio(m, folioHead(m, page), 1, flags.pin);
      pages.push({ pfn: page, gen: frameAt(m, page).gen });
    }
    return this.newHandle(m, mm, s, flags, pages);
  }

  /**
   * Simplified (issue 14): GUP of a file mapping is not modelled yet, so GUP stops at the first
   * page of [start, end) in a file VMA, as at a VMA it may not take pages from
   * (`check_vma_flags()` → -EFAULT); returns where it stops.
   */
  gupEndBeforeFileVma(m: Machine, mm: MmId, start: Vpn, end: Vpn): Vpn {
    for (let v: number = start; v < end; v++) if (this.fileVmaOf(m, mm, v) !== null) return asVpn(v);
    return end;
  }

  /** Record a handle for the pages taken (or report that none were). */
  newHandle(m: Machine, mm: MmId, start: Vpn, flags: GupFlags, pages: GupPage[]): OpResult {
    if (pages.length === 0) return { kind: 'gupFailed' };
    const h: GupHandle = { id: asHandleId(m.nextHandleId++), mm, vpn: start, pin: flags.pin, write: flags.write, pages };
    m.handles.push(h);
    return { kind: 'handle', handle: h.id, pages: pages.length };
  }

  /**
   * Mirrors the lookup of `follow_page_mask()` → `follow_page_pte()` / `follow_huge_pmd()`
   * (mm/gup.c, 6.12), and the per-entry test of `gup_fast_pte_range()` / `gup_fast_pmd_leaf()`:
   * the page at v if the current translation allows the access without a fault, else null.
   * FOLL_WRITE needs a writable entry (`can_follow_write_pte()`: `pte_write()`, FOLL_FORCE aside);
   * only a read-only entry is tested with `gup_must_unshare()` (`!pte_write(pte) &&
   * gup_must_unshare()`, -EMLINK → FAULT_FLAG_UNSHARE): a writable anon entry maps an exclusive
   * page by the rmap invariant, so the kernel never looks. A kernel that breaks that invariant is
   * therefore not rescued by an unshare fault here (the ledger reports the writable non-exclusive
   * page; see properties/gupFidelity.test.ts).
   */
  lookupPermitted(m: Machine, mm: MmId, v: Vpn, flags: GupFlags): Pfn | null {
    const i = pmdIndexOf(m, v);
    const pmd = pmdAt(m, mm, i);
    let page: Pfn;
    let writable: boolean;
    // A PMD mapping keeps PageAnonExclusive on the head (follow_huge_pmd() and
    // gup_fast_pmd_leaf() test the head page).
    let exclusivityPage: Pfn;
    if (pmd.kind === 'leaf') {
      page = asPfn(pmd.pfn + (v - pmdStart(m, i)));
      writable = pmd.writable;
      exclusivityPage = pmd.pfn;
    } else {
      const pte = pteAt(m, mm, v);
      if (pte === null || pte.kind !== 'present') return null;
      page = pte.pfn;
      writable = pte.writable;
      exclusivityPage = page;
    }
    if (flags.write && !writable) return null;
    if (!writable && this.gupMustUnshare(m, flags, exclusivityPage)) return null;
    return page;
  }

  /**
   * Mirrors `gup_must_unshare()` (mm/internal.h, 6.12): an R/O pin of an anon page needs it
   * exclusive. The shared zero page is not anon (`!PageAnon(page)`): it must be unshared only for
   * FOLL_LONGTERM in a COW mapping — and the model's FOLL_PIN is a long-term pin (io_uring's
   * fixed buffers, the cow selftest's R/O long-term pins; the user-memory oracle holds every pin
   * to the reliability FOLL_LONGTERM promises), in a private mapping, so an R/O pin of the zero
   * page always unshares (`wp_page_copy()` to a new exclusive page, mapped R/O).
   */
  gupMustUnshare(m: Machine, flags: GupFlags, page: Pfn): boolean {
    if (!flags.pin || flags.write) return false;
    if (isZeroPfn(m, page)) return true; // !PageAnon: FOLL_LONGTERM && is_cow_mapping()
    return !frameAt(m, page).anonExclusive;
  }

  /**
   * Mirrors `gup_fast_pte_range()` / `gup_fast_pmd_leaf()` (mm/gup.c, 6.12): the lockless lookup
   * of one page, without taking the reference. A special PTE — the shared zero page — ends
   * GUP-fast (`pte_special(pte)` → `goto pte_unmap`), so the slow path takes it.
   */
  gupFastFollow(m: Machine, mm: MmId, v: Vpn, flags: GupFlags): Pfn | null {
    if (pmdAt(m, mm, pmdIndexOf(m, v)).kind === 'table') {
      const pte = pteAt(m, mm, v);
      if (pte !== null && pte.kind === 'present' && isZeroPfn(m, pte.pfn)) {
        mark(m, 'GUP-fast fell back at the zero page');
        return null;
      }
    }
    return this.lookupPermitted(m, mm, v, flags);
  }

  /**
   * Mirrors `follow_page_mask()` + `faultin_page()` (mm/gup.c): fault until the translation
   * permits the access (write fault for FOLL_WRITE, FAULT_FLAG_UNSHARE for an R/O pin of a shared
   * page). Null when it never will (a store to a read-only VMA: -EFAULT). Runs
   * `followPageWithFaultSteps()` to its end.
   */
  followPageWithFault(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, flags: GupFlags): Pfn | null {
    return runToEnd(this.followPageWithFaultSteps(m, cpu, mm, v, flags));
  }

  /**
   * `__get_user_pages()`'s loop for one page (mm/gup.c, 6.12), with its preemption point:
   * `follow_page_mask()` finds nothing usable, `faultin_page()` (`handle_mm_fault()`) returns 0
   * and the loop does `goto retry`, where `cond_resched()` comes before the lookup is repeated
   * ('gup: faulted, before the retried lookup'). `mmap_lock` is held for read throughout; the
   * fault's PTL is dropped, so anything that takes the PTL may change the entry the fault made
   * (a zap, a migration, another CPU's COW fault) — which is why the page is looked up again
   * rather than taken from the fault.
   */
  *followPageWithFaultSteps(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, flags: GupFlags): KernelSteps<Pfn | null> {
    // Only a fault whose entry nothing changed before the retry counts towards the bound: the
    // kernel retries for as long as it takes, and a task may be raced any number of times (one
    // op of the schedule each), but an entry left as the fault made it must be usable.
    // mmap_read_lock() (`__get_user_pages_locked()`), held across the faults and the retries.
    // Simplified: taken per page of the slow path, not once for the call.
    const mmapLock = mmapLockOf(mm, 'read');
    lockAcquire(m, mmapLock);
    let found: Pfn | null = null;
    for (let attempt = 0; ; ) {
      if (attempt === 3) {
        this.warnOn(m, true, `GUP of mm ${mm} vpn ${v} still faults after handling`);
        break;
      }
      found = this.lookupPermitted(m, mm, v, flags);
      if (found !== null || (flags.write && !mmAt(m, mm).vmaWritable[v])) break;
      const populated = pmdAt(m, mm, pmdIndexOf(m, v)).kind === 'leaf' || pteAt(m, mm, v)?.kind === 'present';
      const kind = flags.write ? 'write' : populated ? 'unshare' : 'read';
      // handle_mm_fault() takes each entry's PTL (or PMD lock) itself.
      ownPtls(m, () => this.handleMmFault(m, cpu, mm, v, kind));
      const made = { pmd: pmdAt(m, mm, pmdIndexOf(m, v)), pte: pteAt(m, mm, v) };
      yield 'gup: faulted, before the retried lookup';
      if (entryUnchanged(m, mm, v, made)) attempt++;
      else mark(m, 'GUP retried its lookup after the faulted entry changed');
    }
    lockRelease(m, mmapLock);
    return found;
  }

  /**
   * The slow path for one page through its twin, or through the plain `followPageWithFault()` when
   * a variant overrides that below the twin (no point then).
   */
  protected *followPageWithFaultVia(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, flags: GupFlags): KernelSteps<Pfn | null> {
    if (overriddenBelow(this, 'followPageWithFaultSteps', 'followPageWithFault')) return this.followPageWithFault(m, cpu, mm, v, flags);
    return yield* this.followPageWithFaultSteps(m, cpu, mm, v, flags);
  }

  /**
   * Mirrors `try_grab_folio()` (mm/gup.c, 6.12): FOLL_GET adds `refs` references; FOLL_PIN adds `refs`
   * references and `refs` to _pincount on a large folio, `refs * GUP_PIN_COUNTING_BIAS`
   * references on a small one. The caller holds the PTL or a reference, so the folio is live.
   * The shared zero page: FOLL_GET takes plain references (ZeroPage.gupRefs), FOLL_PIN none —
   * "Don't take a pin on the zero page - it's not going anywhere" (`is_zero_folio()`, since 6.5's
   * "mm: Don't pin ZERO_PAGE in pin_user_pages()").
   */
  tryGrabFolio(m: Machine, head: Pfn, refs: number, pin: boolean): void {
    if (m.zeroPage !== undefined && isZeroPfn(m, head)) {
      if (pin) return;
      m.zeroPage.gupRefs += refs;
      m.stats.atomicRefUpdates++;
      mark(m, 'GUP took a reference on the zero page');
      return;
    }
    // A freed frame has no folio left to read a refcount from: the same warning, not a model crash.
    this.warnOn(m, frameAt(m, head).folio === null, `try_grab_folio on freed frame ${head}`);
    const f = folioAt(m, head);
    this.warnOn(m, f.refcount <= 0, `try_grab_folio on free folio ${f.id}`);
    if (!pin) {
      this.folioRefAdd(m, head, refs);
      return;
    }
    if (f.order > 0) {
      this.folioRefAdd(m, head, refs);
      f.pincount += refs;
      m.stats.atomicRefUpdates++;
    } else {
      this.folioRefAdd(m, head, refs * GUP_PIN_COUNTING_BIAS);
    }
  }

  /**
   * Mirrors `try_grab_folio_fast()` → `try_get_folio()` (mm/gup.c, 6.12): take `refs` references
   * (and pins) on the folio of `page` without holding a lock or a reference, as GUP-fast must —
   * the page it read locklessly may have been freed since (refcount 0: `folio_ref_try_add()`
   * fails, and so does the grab) or freed and reused (the grab then lands on whatever folio the
   * page belongs to now, which the caller's PTE recheck throws back). After the grab it rechecks
   * that `page` still belongs to that folio (`page_folio(page) != folio`: a split between
   * `page_folio()` and the increment), putting the references back if not. Returns the head
   * grabbed, or null.
   *
   * Simplified: the kernel retries `try_get_folio()` after a failed `page_folio()` recheck; here
   * the grab fails and GUP-fast falls back to the slow path, which takes the page as a retry
   * would. Nothing runs between `page_folio()` and the increment (one call), so that recheck can
   * only fail in a variant that forces it (properties/gupFidelity.test.ts); what runs between the
   * lockless read and this grab — a walk stopped at 'grab' — is what the refcount test is for.
   */
  tryGrabFolioFast(m: Machine, page: Pfn, refs: number, pin: boolean): Pfn | null {
    const head = folioHead(m, page);
    if (!this.folioRefTryable(m, head)) return null;
    this.tryGrabFolio(m, head, refs, pin);
    if (!this.gupFastFolioStillOwns(m, page, head)) {
      this.gupPutFolio(m, head, refs, pin);
      return null;
    }
    return head;
  }

  /**
   * Mirrors the test of `folio_ref_try_add()` / `folio_try_get()` (include/linux/page_ref.h,
   * 6.12): a reference may be taken only on a live folio whose refcount is not zero.
   */
  folioRefTryable(m: Machine, head: Pfn): boolean {
    const fr = frameAt(m, head);
    return fr.state === 'data' && fr.folio !== null && fr.folio.refcount > 0;
  }

  /** The `page_folio(page) == folio` recheck of `try_get_folio()` (mm/gup.c, 6.12): a split between the read and the grab fails it. */
  gupFastFolioStillOwns(m: Machine, page: Pfn, head: Pfn): boolean {
    return folioHead(m, page) === head;
  }

  /**
   * Mirrors `gup_put_folio()` (mm/gup.c, 6.12): the inverse of tryGrabFolio. An unpin of the zero
   * page does nothing (`if (is_zero_folio(folio)) return;`, since 6.5); a FOLL_GET put drops a
   * plain reference, which never frees it.
   */
  gupPutFolio(m: Machine, head: Pfn, refs: number, pin: boolean): void {
    if (m.zeroPage !== undefined && isZeroPfn(m, head)) {
      if (pin) return;
      this.warnOn(m, m.zeroPage.gupRefs < refs, `put of ${refs} references on the zero page, which GUP holds ${m.zeroPage.gupRefs} of`);
      m.zeroPage.gupRefs -= refs;
      m.stats.atomicRefUpdates++;
      return;
    }
    const f = folioAt(m, head);
    if (!pin) {
      this.folioPutRefs(m, head, refs);
      return;
    }
    if (f.order > 0) {
      this.warnOn(m, f.pincount < refs, `unpin of ${refs} from folio ${f.id} with pincount ${f.pincount}`);
      f.pincount -= refs;
      m.stats.atomicRefUpdates++;
      this.folioPutRefs(m, head, refs);
    } else {
      this.folioPutRefs(m, head, refs * GUP_PIN_COUNTING_BIAS);
    }
  }

  /** Mirrors `unpin_user_pages()` / `put_page()` per page (mm/gup.c): release every page of the handle, one at a time. */
  unpinUserPages(m: Machine, id: HandleId): OpResult {
    const h = this.takeHandle(m, id);
    if (h === null) return noop('no such handle');
    this.unpinMarkDirty(m, h);
    for (const p of h.pages) this.gupPutFolio(m, folioHead(m, p.pfn), 1, h.pin);
    return { kind: 'done' };
  }

  /**
   * The `make_dirty` half of `unpin_user_pages_dirty_lock()` (mm/gup.c, 6.12), which a driver that
   * let its device write through a FOLL_WRITE pin calls instead of `unpin_user_pages()`: every
   * page's folio is marked dirty (`folio_mark_dirty()`) before the pin goes, so reclaim writes
   * the device's data out instead of freeing a clean page (DMA sets no PTE dirty bit). Read pins
   * and FOLL_GET handles (the model lets devices write only through write pins) change nothing.
   */
  unpinMarkDirty(m: Machine, h: GupHandle): void {
    if (!h.pin || !h.write) return;
    for (const p of h.pages) if (!isZeroPfn(m, p.pfn)) folioAt(m, p.pfn).dirty = true;
  }

  /** Remove a handle from the machine (the caller is about to release its pages). */
  takeHandle(m: Machine, id: HandleId): GupHandle | null {
    const i = m.handles.findIndex((h) => h.id === id);
    if (i < 0) return null;
    const [h] = m.handles.splice(i, 1);
    return h ?? null;
  }
}

/** Are the PMD and PTE of (mm, v) still what they were (`pmd_same()`, `pte_same()`)? */
function entryUnchanged(m: Machine, mm: MmId, v: Vpn, before: { readonly pmd: PmdEntry; readonly pte: Pte | null }): boolean {
  const pte = pteAt(m, mm, v);
  if (!pmdSame(pmdAt(m, mm, pmdIndexOf(m, v)), before.pmd)) return false;
  return pte === null || before.pte === null ? pte === before.pte : pteSame(pte, before.pte);
}
