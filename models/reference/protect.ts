import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { frameAt } from '../machine/frames';
import { mmAt, pmdAt, pmdIndexOf, pmdStart, pteAt, setPmd, setPte } from '../machine/pgtable';
import type { OpResult } from '../result';
import { noop } from '../result';
import { ForkPaths } from './fork';

/** mprotect() and mremap(): changing and moving translations without changing what is mapped. */
export abstract class ProtectPaths extends ForkPaths {
  /**
   * Mirrors `change_protection()` → `change_pte_range()` (mm/mprotect.c) over [start, end).
   * Making a range read-only write-protects present PTEs and flushes them (a downgrade needs a
   * flush, rule R4). Making it writable upgrades only PTEs of exclusive anonymous pages
   * (`can_change_pte_writable()`), with no flush. A partly covered PMD leaf is split first.
   */
  changeProtection(m: Machine, mm: MmId, start: Vpn, end: Vpn, writable: boolean): void {
    const vma = mmAt(m, mm).vmaWritable;
    for (let v = start; v < end; v++) vma[v] = writable;
    const ppt = m.geometry.ptrsPerPte;
    for (let i = Math.floor(start / ppt); i * ppt < end; i++) {
      const lo = Math.max(start, pmdStart(m, i));
      const hi = Math.min(end, pmdStart(m, i) + ppt);
      const pmd = pmdAt(m, mm, i);
      if (pmd.kind === 'leaf') {
        if (hi - lo < ppt) this.splitHugePmd(m, mm, i);
        else {
          this.changeHugePmd(m, mm, i, writable);
          continue;
        }
      }
      for (let v = lo; v < hi; v++) this.changePte(m, mm, asVpn(v), writable);
    }
  }

  /** One PTE of `change_pte_range()`: write-protect and flush, or upgrade an exclusive page. */
  changePte(m: Machine, mm: MmId, v: Vpn, writable: boolean): void {
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind !== 'present') return;
    if (!writable) {
      if (!pte.writable) return;
      setPte(m, mm, v, { ...pte, writable: false });
      this.flushTlbPage(m, mm, v);
      return;
    }
    if (!pte.writable && frameAt(m, pte.pfn).anonExclusive) setPte(m, mm, v, { ...pte, writable: true });
  }

  /** Mirrors `change_huge_pmd()` (mm/huge_memory.c). */
  changeHugePmd(m: Machine, mm: MmId, i: number, writable: boolean): void {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf') return;
    if (!writable) {
      if (!pmd.writable) return;
      setPmd(m, mm, i, { ...pmd, writable: false });
      this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
      return;
    }
    if (!pmd.writable && frameAt(m, pmd.pfn).anonExclusive) setPmd(m, mm, i, { ...pmd, writable: true });
  }

  /**
   * Mirrors `move_page_tables()` → `move_ptes()` (mm/mremap.c): move the PTEs of [from, from+nr)
   * to [to, to+nr). The mapping, mapcounts and references do not change; the old translations
   * are flushed. A no-op when the ranges overlap, leave the mm, or the destination is populated.
   * PMD leaves in the source are split first (no move_huge_pmd()).
   */
  movePageTables(m: Machine, mm: MmId, from: Vpn, to: Vpn, nr: number): OpResult {
    const top = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
    if (nr <= 0 || from + nr > top || to + nr > top) return noop('range outside the mm');
    if (from < to + nr && to < from + nr) return noop('ranges overlap');
    for (let k = 0; k < nr; k++) {
      const v = asVpn(to + k);
      if (pmdAt(m, mm, pmdIndexOf(m, v)).kind === 'leaf') return noop('destination is PMD-mapped');
      const pte = pteAt(m, mm, v);
      if (pte !== null && pte.kind !== 'none') return noop('destination populated');
    }
    for (let k = 0; k < nr; k++) {
      const i = pmdIndexOf(m, asVpn(from + k));
      if (pmdAt(m, mm, i).kind === 'leaf') this.splitHugePmd(m, mm, i);
    }
    const vma = mmAt(m, mm).vmaWritable;
    for (let k = 0; k < nr; k++) {
      const src = asVpn(from + k);
      const dst = asVpn(to + k);
      vma[dst] = vma[src] ?? true;
      this.moveOnePte(m, mm, src, dst);
    }
    return { kind: 'done' };
  }

  /** Move one PTE: clear the old one and flush it before the new one appears. */
  moveOnePte(m: Machine, mm: MmId, src: Vpn, dst: Vpn): void {
    const pte = pteAt(m, mm, src);
    if (pte === null || pte.kind !== 'present') return;
    setPte(m, mm, src, { kind: 'none' });
    this.flushTlbPage(m, mm, src);
    this.pteAlloc(m, mm, pmdIndexOf(m, dst));
    setPte(m, mm, dst, pte);
  }
}
