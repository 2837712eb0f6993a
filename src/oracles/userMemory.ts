import type { HandleId, MmId } from '../../models/machine/ids';
import { handleId as asHandle, mmId as asMm, vpn as asVpn } from '../../models/machine/ids';
import type { GupPage, Machine } from '../../models/machine/state';
import { frameAt } from '../../models/machine/frames';
import { mappedPfn } from '../../models/machine/pgtable';
import { ModelViolationError } from '../../models/machine/violation';
import type { Applied } from '../ops/apply';
import type { Op } from '../ops/op';
import { staleHit } from './windowOutcome';

/** The content of a page no mm maps any more; every pin of that page shares it. */
interface DetachedPage {
  value: number;
  /**
   * Detached by a zap task still in flight (docs/concurrency.md): user stores to (mm, vpn) may
   * still land in the page until the task's flush, so a read may also return any of these.
   */
  also?: Set<number>;
  /** The address whose racy stores may still reach the page (while its window is open). */
  racyWith?: { readonly mm: MmId; readonly vpn: number };
}

/**
 * The window of a zap task in flight: from the op that started it to the step it completed.
 * `stored` holds, per page, the values stored to it inside the window since the page was last
 * known to read 0 (the window's start, or a zap of it that completed inside the window).
 */
interface Window {
  readonly mm: MmId;
  readonly start: number;
  readonly end: number;
  readonly stored: Map<number, Set<number>>;
  readonly detached: DetachedPage[];
}

/** A pinned page as the user sees it: still the page at (mm, vpn), or detached (shared by all its pins). */
type PinnedPage = { readonly kind: 'attached'; mm: MmId; vpn: number } | { readonly kind: 'detached'; readonly page: DetachedPage };

interface PinModel {
  readonly pages: PinnedPage[];
}

/**
 * A GUP task in flight (the slow path, preempted inside `__get_user_pages()`): the pages it has
 * grabbed so far are pinned already, but its handle (and so its pins) appears only when it
 * completes. A page it grabbed and a zap then unmapped stays pinned, detached, with what it held
 * then; `__get_user_pages()` does not recheck a page it has grabbed. Which frame it grabbed for an
 * address is not the oracle's to choose, so `seen` records, per address, every frame the address
 * mapped at a step boundary of the window (`frameKey()`), and what became of it: null while the
 * address still maps it, the detached page once a zap unmapped it. At completion each page of the
 * handle attaches, or takes the detached page of the frame it holds.
 */
interface GupWindow {
  readonly mm: MmId;
  readonly start: number;
  readonly end: number;
  readonly seen: Map<number, Map<string, DetachedPage | null>>;
}

/** A virtual page of a file mapping: the file page it maps, and whether the mapping is MAP_SHARED. */
interface FilePage {
  readonly file: number;
  readonly pgoff: number;
  readonly shared: boolean;
}

const frameKey = (page: GupPage): string => `${page.pfn}@${page.gen}`;

/**
 * The user-visible memory oracle (docs/design.md, "Oracles"): what each mm's private memory must contain and
 * what each pin must see, independent of any kernel. A store sets a value; fork copies an mm's
 * values to the child; zap and exit forget them (unpopulated memory reads 0, and so does a new
 * page); mremap moves them. A FOLL_PIN page stays coherent with its (mm, address) while that
 * mapping lasts — the kernel's "pins are reliable" promise, which is why R/O pins unshare — and
 * keeps its own value once zap or exit detaches it. Every load and every device read through a
 * pin is checked: this is the cow.c selftest's "no leak parent→child, child→parent" and "pin is
 * reliable". FOLL_GET references promise no coherence, so reads through them are left to the
 * differential check.
 */
export class UserMemory {
  private readonly mem = new Map<MmId, Map<number, number>>();
  private readonly pins = new Map<HandleId, PinModel>();
  /**
   * Pages whose content raced with a zap task (docs/concurrency.md): any of these values may be
   * read. Overrides `mem` for the page; empty unless a run has schedule ops.
   */
  private readonly maybe = new Map<MmId, Map<number, Set<number>>>();
  /**
   * Pages given MADV_FREE and not stored to since (issue 13): reclaim may drop a clean lazyfree
   * page at any time, so a read may also return 0 — until the next store, which dirties the PTE
   * and makes the page the process's again. A read of 0 means it was dropped: 0 from then on.
   */
  private readonly lazyfree = new Map<MmId, Set<number>>();
  /** The windows of zap tasks in flight, by CPU. */
  private readonly windows = new Map<number, Window>();
  /**
   * The windows of fork tasks in flight, by CPU: a store to the parent inside one (through a
   * TLB entry fork has not flushed yet, or a pin) may or may not reach the child, depending on
   * whether fork had already shared that page or copied it.
   */
  private readonly forks = new Map<number, { readonly parent: MmId; readonly child: MmId }>();
  /** The ranges of MADV_FREE tasks in flight, by CPU (docs/concurrency.md "The madvise window"). */
  private readonly freeWindows = new Map<number, { readonly mm: MmId; readonly start: number; readonly end: number }>();
  /**
   * What each file holds, per page index (issue 14): every MAP_SHARED mapping of a page, pread()
   * and pwrite() see one value, which no zap, exit or writeback changes (absent: 0); truncate
   * zeroes it. A MAP_PRIVATE mapping's page reads it too until a store gives the page its own
   * copy (`mem`, where a private page's value is kept even when 0); a zap drops the copy.
   */
  private readonly fileValues = new Map<number, Map<number, number>>();
  /**
   * The file layout as the ops made it (mmapFile, fork, mremap): per mm, the virtual pages that
   * map a file page. Kept from the ops rather than read from a kernel's machine, so that the
   * oracle stays independent of the kernel under test.
   */
  private readonly layout = new Map<MmId, Map<number, FilePage>>();
  /** The GUP tasks in flight, by CPU. */
  private readonly gups = new Map<number, GupWindow>();
  /** The CPUs with a reclaim task in flight (docs/concurrency.md "The reclaim window"). */
  private readonly reclaims = new Set<number>();
  /**
   * While a reclaim task is in flight: per page stored to since the first one started, every
   * value the page held meanwhile. A load through a translation the reclaim still owes the flush
   * of reads the old page, which holds one of them; the page tables' page holds the last.
   */
  private readonly heldInReclaimWindow = new Map<MmId, Map<number, Set<number>>>();

  /** A store of `value` to (mm, vpn) is about to land: inside a reclaim window, remember what the page held. */
  private noteHeldInReclaimWindow(mm: MmId, vpn: number, value: number): void {
    if (this.reclaims.size === 0) return;
    let pages = this.heldInReclaimWindow.get(mm);
    if (pages === undefined) this.heldInReclaimWindow.set(mm, (pages = new Map()));
    const held = pages.get(vpn) ?? new Set(this.acceptable(mm, vpn));
    held.add(value);
    pages.set(vpn, held);
  }

  /** A store of `value` to the parent's (mm, vpn) inside a fork window: the child may see it. */
  private forkRacyStore(mm: MmId, vpn: number, value: number): void {
    if (this.sharedFileOf(mm, vpn) !== null) return; // the child maps the same file page
    for (const f of this.forks.values()) {
      if (f.parent !== mm) continue;
      this.setMaybe(f.child, vpn, new Set([...this.acceptable(f.child, vpn), value]));
    }
  }

  private values(mm: MmId): Map<number, number> {
    let v = this.mem.get(mm);
    if (v === undefined) {
      v = new Map();
      this.mem.set(mm, v);
    }
    return v;
  }

  private read(mm: MmId, vpn: number): number {
    const at = this.fileOf(mm, vpn);
    const own = at?.shared === true ? undefined : this.mem.get(mm)?.get(vpn);
    if (own !== undefined) return own;
    return at === null ? 0 : this.fileValue(at);
  }

  /** What the file holds at the page `at` maps. */
  private fileValue(at: FilePage): number {
    return this.fileValues.get(at.file)?.get(at.pgoff) ?? 0;
  }

  /** The file page (mm, vpn) maps, MAP_SHARED or MAP_PRIVATE, or null for anonymous memory. */
  private fileOf(mm: MmId, vpn: number): FilePage | null {
    return this.layout.get(mm)?.get(vpn) ?? null;
  }

  /** The file page (mm, vpn) maps through a MAP_SHARED mapping (stores reach the file; no window can lose one), or null. */
  private sharedFileOf(mm: MmId, vpn: number): FilePage | null {
    const at = this.fileOf(mm, vpn);
    return at?.shared === true ? at : null;
  }

  /** What (mm, vpn) reads once a zap dropped its page: 0, or what the file holds for a MAP_PRIVATE page (it faults the page-cache page in again). */
  private zappedValue(mm: MmId, vpn: number): number {
    const at = this.fileOf(mm, vpn);
    return at === null ? 0 : this.fileValue(at);
  }

  private setFileValue(file: number, index: number, value: number): void {
    let f = this.fileValues.get(file);
    if (f === undefined) this.fileValues.set(file, (f = new Map()));
    f.set(index, value);
  }

  /** The values a read of (mm, vpn) may return now: one, or several after a race or MADV_FREE. */
  private acceptable(mm: MmId, vpn: number): ReadonlySet<number> {
    if (this.sharedFileOf(mm, vpn) !== null) return new Set([this.read(mm, vpn)]);
    const racy = this.maybe.get(mm)?.get(vpn);
    // A MAP_PRIVATE page a zap may have dropped reads the file as it is now once faulted in again.
    const ok = racy === undefined ? new Set([this.read(mm, vpn)]) : this.fileOf(mm, vpn) === null ? racy : new Set([...racy, this.zappedValue(mm, vpn)]);
    return this.lazyfree.get(mm)?.has(vpn) === true ? new Set([...ok, 0]) : ok;
  }

  /**
   * A store reached (mm, vpn): a MADV_FREE page is the process's again — unless a MADV_FREE task
   * in flight covers it. Then the store races with the call: it may have gone through a dirty
   * translation the call has not flushed yet, leaving the PTE clean, or land before the call
   * cleans the page; reclaim may then drop it (docs/concurrency.md "The madvise window").
   */
  private stored(mm: MmId, vpn: number): void {
    for (const w of this.freeWindows.values()) if (w.mm === mm && vpn >= w.start && vpn < w.end) return;
    this.lazyfree.get(mm)?.delete(vpn);
  }

  /** Pages of [start, end) may be dropped by reclaim until their next store (MADV_FREE). */
  private markLazyfree(mm: MmId, start: number, end: number): void {
    let lz = this.lazyfree.get(mm);
    if (lz === undefined) this.lazyfree.set(mm, (lz = new Set()));
    // MADV_FREE stops at the first file VMA (-EINVAL there).
    for (let v = start; v < end && this.fileOf(mm, v) === null; v++) lz.add(v);
  }

  /** A zap task in flight covers (mm, vpn): accesses there race with it. */
  private covered(mm: MmId, vpn: number): boolean {
    // A store to a MAP_SHARED file page lands in the page cache whatever a zap does: never lost.
    if (this.sharedFileOf(mm, vpn) !== null) return false;
    for (const w of this.windows.values()) if (w.mm === mm && vpn >= w.start && vpn < w.end) return true;
    return false;
  }

  /** A known value for (mm, vpn): no race left to account for. */
  private setDefinite(mm: MmId, vpn: number, value: number): void {
    const at = this.fileOf(mm, vpn);
    if (at?.shared === true) {
      this.setFileValue(at.file, at.pgoff, value);
      return;
    }
    this.maybe.get(mm)?.delete(vpn);
    // A MAP_PRIVATE page's own copy is kept even when it holds 0 (absent, it reads the file).
    if (value === 0 && at === null) this.mem.get(mm)?.delete(vpn);
    else this.values(mm).set(vpn, value);
  }

  /** A zap dropped (mm, vpn)'s page, no race left: it reads 0, or the file for a MAP_PRIVATE page. */
  private setZapped(mm: MmId, vpn: number): void {
    this.maybe.get(mm)?.delete(vpn);
    this.mem.get(mm)?.delete(vpn);
  }

  private setMaybe(mm: MmId, vpn: number, values: Set<number>): void {
    let mp = this.maybe.get(mm);
    if (mp === undefined) this.maybe.set(mm, (mp = new Map()));
    mp.set(vpn, values);
    this.mem.get(mm)?.delete(vpn);
  }

  /** A store (user or through a pin) of `value` to (mm, vpn) inside a window: it may land or be lost. */
  private racyStore(mm: MmId, vpn: number, value: number): void {
    this.setMaybe(mm, vpn, new Set([...this.acceptable(mm, vpn), value]));
    for (const w of this.windows.values()) {
      if (w.mm !== mm || vpn < w.start || vpn >= w.end) continue;
      let st = w.stored.get(vpn);
      if (st === undefined) w.stored.set(vpn, (st = new Set()));
      st.add(value);
      for (const d of w.detached) if (d.racyWith?.mm === mm && d.racyWith.vpn === vpn) d.also?.add(value);
    }
  }

  /**
   * A zap task started on `cpu` and was preempted: every page of its range may now read its
   * value, or 0 (the task cleared its PTE), and stores to it may be lost until the task's flush.
   * Pins of those pages detach now, keeping every value they might hold.
   */
  private beginWindow(cpu: number, mm: MmId, start: number, end: number): void {
    const w: Window = { mm, start, end, stored: new Map(), detached: [] };
    // Every pin of one page detaches to the same page: a device write through one is what a
    // device read through another returns (as forget() does for a zap that is not a task).
    const byVpn = new Map<number, DetachedPage>();
    const detach = (vpn: number): DetachedPage => {
      let page = byVpn.get(vpn);
      if (page === undefined) {
        page = { value: this.read(mm, vpn), also: new Set(this.acceptable(mm, vpn)), racyWith: { mm, vpn } };
        byVpn.set(vpn, page);
        w.detached.push(page);
      }
      return page;
    };
    for (const pin of this.pins.values()) {
      pin.pages.forEach((p, i) => {
        if (p.kind !== 'attached' || p.mm !== mm || p.vpn < start || p.vpn >= end) return;
        pin.pages[i] = { kind: 'detached', page: detach(p.vpn) };
      });
    }
    this.detachGrabbed(mm, start, end, detach);
    for (let v = start; v < end; v++) if (this.sharedFileOf(mm, v) === null) this.setMaybe(mm, v, new Set([...this.acceptable(mm, v), this.zappedValue(mm, v)]));
    this.windows.set(cpu, w);
  }

  /**
   * The task on `cpu` completed: its flush is done, so a page of its range no other window covers
   * holds 0 or a value stored inside the window (into a page faulted in after the task cleared
   * the PTE) — never the value from before, unless it was stored again.
   */
  private endWindow(cpu: number): void {
    const w = this.windows.get(cpu);
    if (w === undefined) return;
    this.windows.delete(cpu);
    for (const d of w.detached) delete d.racyWith;
    for (let v = w.start; v < w.end; v++) {
      if (this.sharedFileOf(w.mm, v) !== null || this.covered(w.mm, v) || this.maybe.get(w.mm)?.get(v) === undefined) continue;
      const st = w.stored.get(v);
      if (st === undefined || st.size === 0) this.setZapped(w.mm, v);
      else this.setMaybe(w.mm, v, new Set([this.zappedValue(w.mm, v), ...st]));
    }
  }

  /** A store landed at (mm, vpn): inside a zap's window it may yet be lost, elsewhere it is what the page holds. */
  private storeLanded(mm: MmId, vpn: number, value: number): void {
    this.noteHeldInReclaimWindow(mm, vpn, value);
    if (this.covered(mm, vpn)) this.racyStore(mm, vpn, value);
    else {
      this.setDefinite(mm, vpn, value);
      this.stored(mm, vpn);
    }
  }

  /**
   * A load that went through a translation a reclaim task in flight still owes the flush of
   * (`staleHit()`): it reads the old page, so any value the page held since the window opened is
   * right, and what the page holds now stays as it was. False when that is not this load.
   */
  private readThroughReclaimWindow(m: Machine, op: Op, value: number): boolean {
    if (this.reclaims.size === 0 || op.kind !== 'access' || staleHit(m, op) === null) return false;
    const mm = asMm(op.mm);
    const held = this.heldInReclaimWindow.get(mm)?.get(op.vpn) ?? this.acceptable(mm, op.vpn);
    return held.has(value);
  }

  /**
   * zap and mremap of [start, end) in a reclaim window: they flush what the reclaim batched first
   * (`flush_tlb_batched_pending()` under the PTL), so no old page is read there any more.
   */
  private forgetHeldInReclaimWindow(mm: MmId, start: number, end: number): void {
    const pages = this.heldInReclaimWindow.get(mm);
    if (pages !== undefined) for (const vpn of [...pages.keys()]) if (vpn >= start && vpn < end) pages.delete(vpn);
  }

  /** A load of (mm, vpn) returned `value`: it must be one the page may hold now. */
  private loadReturned(mm: MmId, vpn: number, value: number, step: number): void {
    const ok = this.acceptable(mm, vpn);
    if (!ok.has(value)) {
      throw new ModelViolationError({ code: 'stale_read', step, mm, vpn: asVpn(vpn), expected: [...ok][0] ?? 0, actual: value });
    }
    // A MADV_FREE page read as 0 was dropped (or held 0): it reads 0 from now on.
    if (value === 0) this.lazyfree.get(mm)?.delete(vpn);
    // Outside every window the page has one view again: what was read is what it holds.
    if (ok.size > 1 && !this.covered(mm, vpn)) this.setDefinite(mm, vpn, value);
  }

  /** What the step did to the tasks: windows open and close before the op itself is accounted. */
  private noteTasks(m: Machine, a: Applied, step: number): boolean {
    let startedTask = false;
    for (const n of a.tasks ?? []) {
      // A GUP task that completed made its handle then: its pins attach to what the pages hold
      // at that point, before what the step's later tasks and its op do to them (a store
      // completing after it lands in the pinned page; an exit detaches it).
      if (n.op === 'gup') {
        if (n.how === 'start' && n.point !== null) this.gups.set(n.cpu, { mm: n.mm, start: n.start, end: n.end, seen: new Map() });
        else if (n.point === null) {
          this.syncHandles(m, this.gups.get(n.cpu));
          this.gups.delete(n.cpu);
        }
        continue;
      }
      // A store whose fault was a task lands when the task completes (after a back-off, by its retry);
      // a load whose fault was a task returns its value then, checked as a load at that point.
      if (n.op === 'access') {
        if (n.point === null && n.value !== undefined) this.storeLanded(n.mm, n.start, n.value);
        // (one that completed at once returned it as the step's result, checked below)
        if (n.point === null && n.read !== undefined && n.how !== 'start') this.loadReturned(n.mm, n.start, n.read, step);
        continue;
      }
      if (n.op === 'fork') {
        if (n.how === 'start' && n.point !== null && a.result.kind === 'forked') this.forks.set(n.cpu, { parent: n.mm, child: a.result.child });
        else if (n.point === null) this.forks.delete(n.cpu);
        continue;
      }
      if (n.op === 'madvise') {
        // MADV_FREE's pages become lazyfree as the op starts (below); stores inside its window
        // may be lost, and when it completes every page of its range may be dropped again.
        const op = a.resolved;
        if (n.how === 'start' && n.point !== null && op?.kind === 'madvise' && op.advice === 'free') this.freeWindows.set(n.cpu, { mm: n.mm, start: n.start, end: n.end });
        else if (n.point === null && n.how !== 'start') {
          const w = this.freeWindows.get(n.cpu);
          this.freeWindows.delete(n.cpu);
          if (w !== undefined) this.markLazyfree(w.mm, w.start, w.end);
        }
        continue;
      }
      if (n.op === 'reclaim') {
        if (n.how === 'start' && n.point !== null) this.reclaims.add(n.cpu);
        else if (n.point === null) {
          // Its try_to_unmap_flush() is done: no CPU reads an old page any more.
          this.reclaims.delete(n.cpu);
          if (this.reclaims.size === 0) this.heldInReclaimWindow.clear();
        }
        continue;
      }
      // Migration and mprotect change no user-visible value: their windows matter to hazards and
      // the differential only, and their pages keep their single view.
      if (n.op !== 'zap') continue;
      if (n.how === 'start' && n.point !== null) {
        this.beginWindow(n.cpu, n.mm, n.start, n.end);
        startedTask = true;
      } else if (n.point === null && n.how !== 'start') this.endWindow(n.cpu);
    }
    return startedTask;
  }

  /** Update the model for one applied op and check what the op returned; throws on a mismatch. */
  check(m: Machine, a: Applied, step: number): void {
    const op = a.resolved;
    const r = a.result;
    const startedTask = this.noteTasks(m, a, step);
    // (a GUP task resumed in this step may have faulted a page in and grabbed it before the op)
    this.noteGrabbable(m);
    if (op !== null) {
      switch (op.kind) {
        case 'access': {
          if (r.kind !== 'value') break;
          const mm = asMm(op.mm);
          if (op.write) {
            this.noteHeldInReclaimWindow(mm, op.vpn, r.value);
            if (this.covered(mm, op.vpn)) this.racyStore(mm, op.vpn, r.value);
            else {
              this.setDefinite(mm, op.vpn, r.value);
              this.stored(mm, op.vpn);
            }
            this.forkRacyStore(mm, op.vpn, r.value);
            break;
          }
          if (!this.readThroughReclaimWindow(m, op, r.value)) this.loadReturned(mm, op.vpn, r.value, step);
          break;
        }
        case 'fork':
          if (r.kind === 'forked') {
            this.mem.set(r.child, new Map(this.mem.get(asMm(op.mm)) ?? []));
            const mp = this.maybe.get(asMm(op.mm));
            if (mp !== undefined) this.maybe.set(r.child, new Map([...mp].map(([v, set]) => [v, new Set(set)])));
            // The child maps the same lazyfree folios: reclaim may drop them for both.
            const lz = this.lazyfree.get(asMm(op.mm));
            if (lz !== undefined) this.lazyfree.set(r.child, new Set(lz));
            // The child has the parent's file mappings (MAP_SHARED: the same file pages).
            const lay = this.layout.get(asMm(op.mm));
            if (lay !== undefined) this.layout.set(r.child, new Map(lay));
          }
          break;
        case 'mmapFile':
          // MAP_FIXED unmaps the range first (its anonymous values are gone, its pins detach),
          // then it maps the file: each page reads what the file holds.
          if (r.kind === 'done') {
            this.forget(asMm(op.mm), op.vpn, op.vpn + op.nr);
            let lay = this.layout.get(asMm(op.mm));
            if (lay === undefined) this.layout.set(asMm(op.mm), (lay = new Map()));
            for (let k = 0; k < op.nr; k++) lay.set(op.vpn + k, { file: op.file, pgoff: op.pgoff + k, shared: op.shared });
          }
          break;
        case 'fileRead':
          if (r.kind === 'value') {
            const expected = this.fileValues.get(op.file)?.get(op.index) ?? 0;
            if (r.value !== expected) throw new ModelViolationError({ code: 'stale_file_read', step, file: op.file, index: op.index, expected, actual: r.value });
          }
          break;
        case 'fileWrite':
          if (r.kind === 'value') this.setFileValue(op.file, op.index, r.value);
          break;
        case 'truncate':
          // Every mapping of the truncated pages is zapped, MAP_PRIVATE copies too; the file reads 0 there.
          if (r.kind === 'done') {
            for (const [mm, lay] of this.layout) for (const [v, at] of lay) if (at.file === op.file && at.pgoff >= op.from) this.forget(mm, v, v + 1);
            const values = this.fileValues.get(op.file);
            if (values !== undefined) for (const index of [...values.keys()]) if (index >= op.from) values.delete(index);
          }
          break;
        case 'madvise':
          // (run whole, or started as a task: its window then keeps the range lazyfree, see noteTasks())
          if (op.advice === 'free' && r.kind === 'done') this.markLazyfree(asMm(op.mm), op.vpn, Math.min(m.geometry.pmdsPerMm * m.geometry.ptrsPerPte, op.vpn + op.nr));
          break;
          break;
        case 'zap': {
          // A zap that became a task opened its window above; one that completed forgets now.
          if (startedTask) break;
          const top = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
          this.forget(asMm(op.mm), op.vpn, Math.min(top, op.vpn + op.nr));
          break;
        }
        case 'exit':
          if (r.kind === 'done') {
            this.forget(asMm(op.mm), 0, Number.MAX_SAFE_INTEGER);
            this.layout.delete(asMm(op.mm));
          }
          break;
        case 'mremap':
          // MREMAP_FIXED unmaps what the destination held (its pins detach), then the pages move
          if (r.kind === 'done') {
            this.forget(asMm(op.mm), op.to, op.to + op.nr);
            this.move(asMm(op.mm), op.from, op.to, op.nr);
            this.moveLayout(asMm(op.mm), op.from, op.to, op.nr);
          }
          break;
        case 'gupRead':
        case 'gupWrite':
          if (r.kind === 'value') this.checkPinAccess(asHandle(op.handle), op.index, op.kind === 'gupWrite', r.value, step);
          break;
        default:
          break;
      }
    }
    this.syncHandles(m);
    this.noteGrabbable(m);
  }

  private checkPinAccess(h: HandleId, index: number, write: boolean, value: number, step: number): void {
    const page = this.pins.get(h)?.pages[index];
    if (page === undefined) return; // a FOLL_GET handle
    if (write) {
      if (page.kind === 'attached') {
        this.noteHeldInReclaimWindow(page.mm, page.vpn, value);
        if (this.covered(page.mm, page.vpn)) this.racyStore(page.mm, page.vpn, value);
        else {
          this.setDefinite(page.mm, page.vpn, value);
          this.stored(page.mm, page.vpn);
        }
        this.forkRacyStore(page.mm, page.vpn, value);
      } else {
        page.page.value = value;
        if (page.page.also !== undefined) page.page.also = new Set([value]);
        // The page may still be what (mm, vpn) maps on some CPU until the window's flush.
        const at = page.page.racyWith;
        if (at !== undefined) this.racyStore(at.mm, at.vpn, value);
      }
      return;
    }
    const ok = page.kind === 'attached' ? this.acceptable(page.mm, page.vpn) : (page.page.also ?? new Set([page.page.value]));
    if (!ok.has(value)) throw new ModelViolationError({ code: 'pin_unreliable', step, handle: h, index, expected: [...ok][0] ?? 0, actual: value });
    // A MADV_FREE page a pin reads as 0 was dropped before the pin took it (a pinned folio is
    // never discarded: try_to_unmap_one() sees the extra references), and the mm maps that page.
    if (page.kind === 'attached' && value === 0 && this.lazyfree.get(page.mm)?.has(page.vpn) === true) {
      this.stored(page.mm, page.vpn);
      if (!this.covered(page.mm, page.vpn)) this.setDefinite(page.mm, page.vpn, 0);
    }
  }

  /**
   * A zap of [start, end) in `mm`: the frames GUP tasks in flight may have grabbed there, and the
   * address still maps, are detached now (`detach(vpn)` gives the page, shared with the pins).
   */
  private detachGrabbed(mm: MmId, start: number, end: number, detach: (vpn: number) => DetachedPage): void {
    for (const g of this.gups.values()) {
      if (g.mm !== mm) continue;
      for (const [vpn, frames] of g.seen) {
        if (vpn < start || vpn >= end) continue;
        for (const [key, page] of frames) if (page === null) frames.set(key, detach(vpn));
      }
    }
  }

  /** Record, for each GUP task in flight, the frame each address of its range maps now. */
  private noteGrabbable(m: Machine): void {
    for (const g of this.gups.values()) {
      for (let v = g.start; v < g.end; v++) {
        const pfn = mappedPfn(m, g.mm, asVpn(v));
        if (pfn === null) continue;
        let frames = g.seen.get(v);
        if (frames === undefined) g.seen.set(v, (frames = new Map()));
        const key = frameKey({ pfn, gen: frameAt(m, pfn).gen });
        if (!frames.has(key)) frames.set(key, null);
      }
    }
  }

  /** Zap or exit of [start, end): the values are gone; the pins of a page there share its last value. */
  private forget(mm: MmId, start: number, end: number): void {
    this.forgetHeldInReclaimWindow(mm, start, end);
    const detached = new Map<number, DetachedPage>();
    const detach = (vpn: number): DetachedPage => {
      let page = detached.get(vpn);
      if (page === undefined) {
        // Several values after a race, or a MADV_FREE page that may have been dropped before
        // the pin took it: the page keeps them all.
        const ok = this.acceptable(mm, vpn);
        detached.set(vpn, (page = { value: [...ok][0] ?? 0, ...(ok.size > 1 ? { also: new Set(ok) } : {}) }));
      }
      return page;
    };
    for (const pin of this.pins.values()) {
      pin.pages.forEach((p, i) => {
        if (p.kind === 'attached' && p.mm === mm && p.vpn >= start && p.vpn < end) pin.pages[i] = { kind: 'detached', page: detach(p.vpn) };
      });
    }
    this.detachGrabbed(mm, start, end, detach);
    // Inside a window a completed zap leaves 0 behind, and stores may race with the task again.
    const mp = this.maybe.get(mm);
    if (mp !== undefined) {
      for (const vpn of [...mp.keys()]) {
        if (vpn < start || vpn >= end) continue;
        if (this.covered(mm, vpn)) mp.set(vpn, new Set([0]));
        else mp.delete(vpn);
      }
    }
    for (const w of this.windows.values()) if (w.mm === mm) for (const vpn of [...w.stored.keys()]) if (vpn >= start && vpn < end) w.stored.delete(vpn);
    const lz = this.lazyfree.get(mm);
    if (lz !== undefined) for (const vpn of [...lz]) if (vpn >= start && vpn < end) lz.delete(vpn);
    const vals = this.mem.get(mm);
    if (vals === undefined) return;
    for (const vpn of [...vals.keys()]) if (vpn >= start && vpn < end) vals.delete(vpn);
  }

  /** mremap moves a file mapping with its pages; the old range is anonymous again (the model keeps it mapped). */
  private moveLayout(mm: MmId, from: number, to: number, nr: number): void {
    const lay = this.layout.get(mm);
    if (lay === undefined) return;
    const moved = [...Array(nr).keys()].map((k) => lay.get(from + k));
    moved.forEach((at, k) => {
      lay.delete(from + k);
      if (at === undefined) lay.delete(to + k);
      else lay.set(to + k, at);
    });
  }

  private move(mm: MmId, from: number, to: number, nr: number): void {
    this.forgetHeldInReclaimWindow(mm, from, from + nr);
    const lz = this.lazyfree.get(mm);
    if (lz !== undefined) {
      const moved = [...lz].filter((v) => v >= from && v < from + nr);
      for (const v of moved) lz.delete(v);
      for (const v of moved) lz.add(v + to - from);
    }
    const mp = this.maybe.get(mm);
    if (mp !== undefined) {
      const moved = new Map<number, Set<number>>();
      for (let k = 0; k < nr; k++) {
        const set = mp.get(from + k);
        if (set !== undefined) moved.set(to + k, set);
        mp.delete(from + k);
        mp.delete(to + k);
      }
      for (const [v, set] of moved) mp.set(v, set);
    }
    const vals = this.values(mm);
    for (let k = 0; k < nr; k++) {
      const v = vals.get(from + k);
      vals.delete(from + k);
      if (v === undefined) vals.delete(to + k);
      else vals.set(to + k, v);
    }
    for (const pin of this.pins.values()) {
      for (const p of pin.pages) if (p.kind === 'attached' && p.mm === mm && p.vpn >= from && p.vpn < from + nr) p.vpn += to - from;
    }
  }

  /**
   * Pins appear when GUP (or a GUP-fast walk finishing) creates a handle, and go with unpin. A
   * handle `task` (a GUP task completing now) made holds, for a page a zap unmapped inside the
   * task's window, the detached page; every other page is still the one its address maps.
   */
  private syncHandles(m: Machine, task?: GupWindow): void {
    const live = new Set<HandleId>();
    for (const h of m.handles) {
      live.add(h.id);
      if (!h.pin || this.pins.has(h.id)) continue;
      this.pins.set(h.id, {
        pages: h.pages.map((p, k): PinnedPage => {
          const page = task?.mm === h.mm ? task.seen.get(h.vpn + k)?.get(frameKey(p)) : undefined;
          return page === undefined || page === null ? { kind: 'attached', mm: h.mm, vpn: h.vpn + k } : { kind: 'detached', page };
        }),
      });
    }
    for (const id of [...this.pins.keys()]) if (!live.has(id)) this.pins.delete(id);
  }
}
