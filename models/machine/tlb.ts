import type { CpuId, MmId, Pfn, Vpn } from './ids';
import type { Machine, TlbEntry } from './state';
import { tlbKey } from './state';

/**
 * TLBs: per-CPU caches of translations. An entry stays until a flush removes it, so a kernel
 * that forgets or delays a flush leaves stale entries that later accesses really use.
 *
 * Flushes reach the CPUs in mm_cpumask (x86 flush_tlb_mm_range()); a CPU that never ran the mm
 * holds no entry for it. Every flush counts one call and one IPI per CPU it reaches.
 */

export function tlbLookup(m: Machine, cpu: CpuId, mm: MmId, v: Vpn): TlbEntry | undefined {
  return m.cpus[cpu]?.tlb.get(tlbKey(mm, v));
}

function dropEntry(m: Machine, e: TlbEntry): void {
  const f = m.frames[e.pfn];
  if (f !== undefined) f.tlbRefs--;
}

/**
 * The hardware walker caches a translation (replacing any older one for the same address), with
 * the write permission and the dirty bit of the entry it walked.
 */
export function tlbFill(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, p: Pfn, writable: boolean, dirty: boolean): TlbEntry {
  const c = m.cpus[cpu];
  const f = m.frames[p];
  if (c === undefined || f === undefined) throw new Error(`bad cpu ${cpu} or pfn ${p}`);
  const key = tlbKey(mm, v);
  const old = c.tlb.get(key);
  if (old !== undefined) dropEntry(m, old);
  const e: TlbEntry = { mm, vpn: v, pfn: p, writable, dirty, gen: f.gen };
  c.tlb.set(key, e);
  f.tlbRefs++;
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

function countFlush(m: Machine, mm: MmId): void {
  m.stats.tlbFlushCalls++;
  const mask = m.mms[mm]?.cpumask ?? [];
  for (const on of mask) if (on) m.stats.tlbFlushIpis++;
}

/** flush_tlb_range(): drop [start, end) of mm from every CPU in its cpumask. */
export function flushTlbRange(m: Machine, mm: MmId, start: number, end: number): void {
  countFlush(m, mm);
  const mask = m.mms[mm]?.cpumask ?? [];
  for (const c of m.cpus) {
    if (!mask[c.id]) continue;
    if (end - start <= c.tlb.size) {
      for (let v = start; v < end; v++) tlbInvalidateLocal(m, c.id, mm, v as Vpn);
    } else {
      for (const e of [...c.tlb.values()]) if (e.mm === mm && e.vpn >= start && e.vpn < end) tlbInvalidateLocal(m, c.id, mm, e.vpn);
    }
  }
}

/** flush_tlb_page(). */
export function flushTlbPage(m: Machine, mm: MmId, v: Vpn): void {
  flushTlbRange(m, mm, v, v + 1);
}

/** flush_tlb_mm(): every entry of mm, on every CPU in its cpumask. */
export function flushTlbMm(m: Machine, mm: MmId): void {
  countFlush(m, mm);
  for (const c of m.cpus) {
    for (const e of [...c.tlb.values()]) if (e.mm === mm) tlbInvalidateLocal(m, c.id, mm, e.vpn);
  }
}

/** arch_tlbbatch_flush() on x86: a full flush of every CPU in `cpus`, whatever mm. */
export function flushTlbCpus(m: Machine, cpus: readonly boolean[]): void {
  m.stats.tlbFlushCalls++;
  for (const c of m.cpus) {
    if (!cpus[c.id]) continue;
    m.stats.tlbFlushIpis++;
    for (const e of c.tlb.values()) dropEntry(m, e);
    c.tlb.clear();
  }
}

/** Any TLB entry translating to `p` (for reporting a hazard). */
export function findTlbEntryFor(m: Machine, p: Pfn): { cpu: CpuId; entry: TlbEntry } | undefined {
  for (const c of m.cpus) for (const e of c.tlb.values()) if (e.pfn === p) return { cpu: c.id, entry: e };
  return undefined;
}
