import type { CpuId, MmId, Pfn, Vpn } from './ids';
import { vpn as asVpn } from './ids';
import type { Cpu, Machine, TlbEntry } from './state';
import { pwcKey, tlbKey } from './state';
import type { PmdEntry, Pte } from './pte';
import { mark } from './marks';

/**
 * TLBs and paging-structure caches as x86 keeps them (arch/x86/mm/tlb.c, 6.12): per-CPU caches
 * of translations and of PMD→PTE-table pointers. An entry stays until a flush removes it, so a
 * kernel that forgets or delays a flush leaves stale entries that later accesses really use.
 *
 * What "has the mm loaded" means here: `Cpu.loadedMm` is cpu_tlbstate.loaded_mm. A CPU switches
 * to an mm only when it accesses or walks it (switchMm); it then stays in mm_cpumask, which 6.12
 * trims only lazily. At `tick` every CPU that is not inside a walk goes lazy (enter_lazy_tlb():
 * a kernel thread runs with the old CR3). A CPU with the mm loaded, lazy or not, may hold any
 * translation of a present PTE and any table pointer of a present PMD reachable from that CR3,
 * used or not (speculative fills); the model records those *possible* entries when the PTE or
 * PMD changes (recordStaleTranslation, recordStalePmd) rather than filling every entry up front.
 *
 * Who a flush reaches (native_flush_tlb_multi() / should_flush_tlb()): the non-lazy CPUs that
 * have the mm loaded; lazy ones too when `freedTables` is set. A lazy CPU that receives it
 * switches to init_mm (flush_tlb_func()); a lazy CPU that is skipped keeps its
 * paging-structure caches and flushes everything when it switches back (its tlb_gen is behind).
 * A CPU in mm_cpumask that has another mm loaded is not sent the IPI either; its entries of this
 * mm are tagged with another PCID and are flushed by switch_mm_irqs_off() when it comes back.
 * Entries that cannot be used before such a deferred flush are dropped at once: no access can
 * tell the difference, and a frame freed meanwhile is not in danger. Every flush counts one call
 * and one IPI per CPU it is sent to.
 */

/** `struct flush_tlb_info` (arch/x86/include/asm/tlbflush.h), the fields the model uses. */
export interface FlushInfo {
  readonly mm: MmId;
  /** [start, end) in pages; end = Infinity for TLB_FLUSH_ALL. */
  readonly start: number;
  readonly end: number;
  /** flush_tlb_info.freed_tables: page-table pages were freed, so lazy CPUs must be flushed too. */
  readonly freedTables: boolean;
}

export function tlbLookup(m: Machine, cpu: CpuId, mm: MmId, v: Vpn): TlbEntry | undefined {
  return m.cpus[cpu]?.tlb.get(tlbKey(mm, v));
}

/**
 * The entry a user access by `cpu` to (mm, v) would find once it has switched to `mm`
 * (`switchMm()`): a lazy CPU that missed a flush of `mm` drops its entries of it then. For
 * oracles that judge an access before it runs.
 */
export function tlbLookupOnAccess(m: Machine, cpu: CpuId, mm: MmId, v: Vpn): TlbEntry | undefined {
  const c = m.cpus[cpu];
  if (c !== undefined && c.loadedMm === mm && c.lazy && c.lazyMissedFlush) return undefined;
  return tlbLookup(m, cpu, mm, v);
}

function dropEntry(m: Machine, e: TlbEntry): void {
  const f = m.frames[e.pfn];
  if (f !== undefined) f.tlbRefs--;
}

function insertEntry(m: Machine, c: Cpu, e: TlbEntry): void {
  const f = m.frames[e.pfn];
  if (f === undefined) throw new Error(`bad pfn ${e.pfn}`);
  const key = tlbKey(e.mm, e.vpn);
  const old = c.tlb.get(key);
  if (old !== undefined) dropEntry(m, old);
  c.tlb.set(key, e);
  f.tlbRefs++;
}

/**
 * The hardware walker caches a translation (replacing any older one for the same address), with
 * the write permission and the dirty bit of the entry it walked.
 */
export function tlbFill(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, p: Pfn, writable: boolean, dirty: boolean): TlbEntry {
  const c = m.cpus[cpu];
  const f = m.frames[p];
  if (c === undefined || f === undefined) throw new Error(`bad cpu ${cpu} or pfn ${p}`);
  const e: TlbEntry = { mm, vpn: v, pfn: p, writable, dirty, gen: f.gen, speculative: false };
  insertEntry(m, c, e);
  return e;
}

/** Drop one CPU's entry for (mm, vpn), e.g. when a fault replaces a read-only entry. */
export function tlbInvalidateLocal(m: Machine, cpu: CpuId, mm: MmId, v: Vpn): void {
  const c = m.cpus[cpu];
  if (c === undefined) return;
  const key = tlbKey(mm, v);
  const e = c.tlb.get(key);
  if (e === undefined) return;
  dropEntry(m, e);
  c.tlb.delete(key);
}

function dropRange(m: Machine, c: Cpu, mm: MmId, start: number, end: number): void {
  const drop = (e: TlbEntry): void => {
    if (e.speculative) mark(m, 'flush dropped a speculative TLB entry');
    tlbInvalidateLocal(m, c.id, mm, e.vpn);
  };
  if (end - start <= c.tlb.size) {
    for (let v = start; v < end; v++) {
      const e = c.tlb.get(tlbKey(mm, v as Vpn));
      if (e !== undefined) drop(e);
    }
    return;
  }
  for (const e of [...c.tlb.values()]) if (e.mm === mm && e.vpn >= start && e.vpn < end) drop(e);
}

function dropPwc(c: Cpu, mm: MmId): void {
  for (const [k, e] of [...c.pwc]) if (e.mm === mm) c.pwc.delete(k);
}

/**
 * Mirrors `switch_mm_irqs_off()` (arch/x86/mm/tlb.c, 6.12) for a CPU about to access or walk
 * `mm`: back from lazy mode on the same mm it flushes everything if a flush skipped it; onto
 * another mm it loads the new CR3 and joins mm_cpumask. The old mm's paging-structure caches are
 * tagged with its PCID and unusable until the CPU comes back, when the tlb_gen check flushes them
 * if any flush happened meanwhile. Simplified: the model drops them at the switch, so a table
 * freed with no flush at all while the CPU ran another mm is not caught (see docs/fidelity/tlb.md).
 */
export function switchMm(m: Machine, cpu: CpuId, mm: MmId): void {
  const c = m.cpus[cpu];
  const mmState = m.mms[mm];
  if (c === undefined || mmState === undefined) throw new Error(`bad cpu ${cpu} or mm ${mm}`);
  mmState.cpumask[cpu] = true;
  if (c.loadedMm === mm) {
    if (c.lazy && c.lazyMissedFlush) {
      for (const e of [...c.tlb.values()]) if (e.mm === mm) tlbInvalidateLocal(m, cpu, mm, e.vpn);
      dropPwc(c, mm);
    }
    c.lazy = false;
    c.lazyMissedFlush = false;
    return;
  }
  if (c.loadedMm !== null) dropPwc(c, c.loadedMm);
  c.loadedMm = mm;
  c.lazy = false;
  c.lazyMissedFlush = false;
}

/**
 * Mirrors `enter_lazy_tlb()` (arch/x86/mm/tlb.c): the CPU runs a kernel thread and keeps the user
 * mm loaded. A CPU inside a lockless walk (IRQs off, or a reader holding the mmap lock) is in
 * that mm's task and cannot switch.
 */
export function enterLazyTlb(m: Machine, cpu: CpuId): void {
  const c = m.cpus[cpu];
  if (c === undefined || c.loadedMm === null || c.walker !== null || c.finishedWalk !== null) return;
  c.lazy = true;
}

/**
 * A PTE of `mm` at `v` changes from `old` to `now`: every CPU that has the mm loaded may hold the
 * old translation speculatively, so where it holds no entry for `v` it is given one (flagged
 * speculative). Only a present PTE can be cached, and only a change that makes the cached copy
 * stale matters (another frame, gone, write-protected, or cleaned).
 */
export function recordStaleTranslation(m: Machine, mm: MmId, v: Vpn, old: Pte, now: Pte): void {
  if (old.kind !== 'present') return;
  if (now.kind === 'present' && now.pfn === old.pfn && (now.writable || !old.writable) && (now.dirty || !old.dirty)) return;
  for (const c of m.cpus) {
    if (c.loadedMm !== mm || c.tlb.has(tlbKey(mm, v))) continue;
    const f = m.frames[old.pfn];
    // The shared zero page can be cached like any page (a stale zero-page entry after a COW from it reads 0).
    if (f === undefined || (f.state !== 'data' && f.state !== 'zero')) continue;
    insertEntry(m, c, { mm, vpn: v, pfn: old.pfn, writable: old.writable, dirty: old.dirty, gen: f.gen, speculative: true });
    mark(m, 'speculative TLB entry recorded at PTE change');
  }
}

/**
 * PMD slot `i` of `mm` changes from `old` to `now`. A table pointer may be in the
 * paging-structure caches of every CPU that has the mm loaded; a leaf's translations may be in
 * their TLBs (recorded per 4K page, as the model's TLB holds them).
 */
export function recordStalePmd(m: Machine, mm: MmId, i: number, old: PmdEntry, now: PmdEntry): void {
  if (old.kind === 'table') {
    if (now.kind === 'table' && now.table === old.table) return;
    const f = m.frames[old.table];
    if (f === undefined) return;
    for (const c of m.cpus) {
      if (c.loadedMm !== mm || c.pwc.has(pwcKey(mm, i))) continue;
      c.pwc.set(pwcKey(mm, i), { mm, pmdIndex: i, table: old.table, gen: f.gen });
      mark(m, 'table pointer cached by a CPU with the mm loaded');
    }
    return;
  }
  if (old.kind !== 'leaf') return;
  if (now.kind === 'leaf' && now.pfn === old.pfn && (now.writable || !old.writable) && (now.dirty || !old.dirty)) return;
  if (!m.cpus.some((c) => c.loadedMm === mm)) return;
  const ppt = m.geometry.ptrsPerPte;
  for (let k = 0; k < ppt; k++) {
    const pte: Pte = { kind: 'present', pfn: (old.pfn + k) as Pfn, writable: old.writable, dirty: old.dirty, young: old.young };
    recordStaleTranslation(m, mm, asVpn(i * ppt + k), pte, { kind: 'none' });
  }
}

/**
 * `native_flush_tlb_multi()`'s choice of targets (arch/x86/mm/tlb.c, 6.12) for one CPU of
 * mm_cpumask: every one when `freed_tables` is set (`on_each_cpu_mask()`), else those for which
 * `should_flush_tlb()` holds — not lazy, and with the mm loaded. (6.12 also sends it, once a
 * second, to CPUs that have another mm loaded, to trim mm_cpumask; the model never trims.)
 */
export function nativeShouldFlush(c: Cpu, info: FlushInfo): boolean {
  if (info.freedTables) return true;
  if (c.lazy) return false;
  return c.loadedMm === info.mm;
}

/**
 * Mirrors `flush_tlb_mm_range()` → `native_flush_tlb_multi()` → `flush_tlb_func()`
 * (arch/x86/mm/tlb.c, 6.12) for a flush of `info.mm`. `sendIpi` decides which CPUs of mm_cpumask
 * get the IPI (nativeShouldFlush, unless a kernel overrides `shouldFlushTlb`). On a CPU that gets
 * it: nothing if it has another mm loaded; a switch to init_mm if it is lazy; else the range is
 * invalidated, with every paging-structure-cache entry of the PCID (INVLPG and CR3 writes both
 * drop them). A CPU that is skipped while lazy keeps its paging-structure caches and flushes all
 * at switch-back; its TLB entries, unusable until then, are dropped now, as are those of CPUs
 * with another mm loaded (flushed at switch-back by the tlb_gen check). A non-lazy CPU with the
 * mm loaded that is skipped keeps everything: that is a broken flush.
 * Returns the CPUs the IPI was sent to (one with IRQs off takes it only once its IRQs-off
 * section ends — the caller models that wait).
 *
 * Simplified (row 25): a reached CPU drops exactly [start, end); x86 flushes the whole mm above
 * tlb_single_page_flush_ceiling (33 pages) and holds a PMD leaf as one 2M entry. Flushing less
 * than the hardware can only report more.
 */
export function flushTlbMmRange(m: Machine, info: FlushInfo, sendIpi: (c: Cpu, info: FlushInfo) => boolean = nativeShouldFlush): CpuId[] {
  m.stats.tlbFlushCalls++;
  const mask = m.mms[info.mm]?.cpumask ?? [];
  const reached: CpuId[] = [];
  for (const c of m.cpus) {
    if (!mask[c.id]) continue;
    const loaded = c.loadedMm === info.mm;
    const ipi = sendIpi(c, info);
    if (ipi) reached.push(c.id);
    if (!loaded) {
      dropRange(m, c, info.mm, info.start, info.end);
      continue;
    }
    if (ipi && c.lazy) {
      // flush_tlb_func() on a lazy CPU: switch_mm_irqs_off(NULL, &init_mm) — CR3 no longer
      // points to the mm, so nothing of it can be used or walked any more.
      mark(m, 'freed_tables flush reached a lazy CPU');
      dropRange(m, c, info.mm, 0, Infinity);
      dropPwc(c, info.mm);
      c.loadedMm = null;
      c.lazy = false;
      c.lazyMissedFlush = false;
      continue;
    }
    if (ipi) {
      dropRange(m, c, info.mm, info.start, info.end);
      dropPwc(c, info.mm);
      continue;
    }
    if (c.lazy) {
      mark(m, 'flush skipped a lazy CPU');
      c.lazyMissedFlush = true;
      dropRange(m, c, info.mm, info.start, info.end);
    }
  }
  m.stats.tlbFlushIpis += reached.length;
  return reached;
}

/** flush_tlb_range(): [start, end) of mm. */
export function flushTlbRange(m: Machine, mm: MmId, start: number, end: number, freedTables = false, sendIpi = nativeShouldFlush): CpuId[] {
  return flushTlbMmRange(m, { mm, start, end, freedTables }, sendIpi);
}

/** flush_tlb_page(). */
export function flushTlbPage(m: Machine, mm: MmId, v: Vpn, sendIpi = nativeShouldFlush): CpuId[] {
  return flushTlbRange(m, mm, v, v + 1, false, sendIpi);
}

/** flush_tlb_mm(): every entry of mm (TLB_FLUSH_ALL). */
export function flushTlbMm(m: Machine, mm: MmId, freedTables = false, sendIpi = nativeShouldFlush): CpuId[] {
  return flushTlbMmRange(m, { mm, start: 0, end: Infinity, freedTables }, sendIpi);
}

/**
 * arch_tlbbatch_flush() on x86: a full flush of every CPU in `cpus`, whatever mm (mm = NULL, so
 * should_flush_tlb() skips only lazy CPUs). A skipped lazy CPU's entries of the mm it has loaded
 * are flushed when it switches back (arch_tlbbatch_add_pending() bumped that mm's tlb_gen), so
 * they are dropped here as well; its paging-structure caches stay.
 */
export function flushTlbCpus(m: Machine, cpus: readonly boolean[]): void {
  m.stats.tlbFlushCalls++;
  for (const c of m.cpus) {
    if (!cpus[c.id]) continue;
    for (const e of c.tlb.values()) dropEntry(m, e);
    c.tlb.clear();
    if (c.lazy) {
      c.lazyMissedFlush = true;
      continue;
    }
    m.stats.tlbFlushIpis++;
    c.pwc.clear();
  }
}

/** Any TLB entry translating to `p` (for reporting a hazard). */
export function findTlbEntryFor(m: Machine, p: Pfn): { cpu: CpuId; entry: TlbEntry } | undefined {
  for (const c of m.cpus) for (const e of c.tlb.values()) if (e.pfn === p) return { cpu: c.id, entry: e };
  return undefined;
}

/** A paging-structure-cache entry of any CPU that still points to table `t` of its current generation. */
export function findPwcEntryFor(m: Machine, t: Pfn, gen: number): { cpu: Cpu; pmdIndex: number; mm: MmId } | undefined {
  for (const c of m.cpus) for (const e of c.pwc.values()) if (e.table === t && e.gen === gen) return { cpu: c, pmdIndex: e.pmdIndex, mm: e.mm };
  return undefined;
}
