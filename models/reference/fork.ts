import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { addMm } from '../machine/create';
import { folioHead, frameAt } from '../machine/frames';
import { liveMms, mmAt, pmdAt, pmdStart, pteAt, setPmd, setPte } from '../machine/pgtable';
import { isZeroPfn } from '../machine/zeroPage';
import { mark } from '../machine/marks';
import type { OpResult } from '../result';
import { noop } from '../result';
import { ZapPaths } from './zap';

/** fork(): duplicating an mm with copy-on-write semantics, one PTE at a time. */
export abstract class ForkPaths extends ZapPaths {
  /**
   * Mirrors `dup_mmap()` (kernel/fork.c) → `copy_page_range()` (mm/memory.c): a new mm with the
   * parent's page tables copied COW, then `flush_tlb_mm(oldmm)` — there is no per-PTE flush in
   * fork; the parent's writable TLB entries live until that one flush. A no-op at maxMms.
   */
  dupMmap(m: Machine, parent: MmId): OpResult {
    if (liveMms(m).length >= m.geometry.maxMms) return noop('too many mms');
    const child = addMm(m).id;
    const src = mmAt(m, parent);
    mmAt(m, child).vmaWritable.splice(0, src.vmaWritable.length, ...src.vmaWritable);
    for (let i = 0; i < m.geometry.pmdsPerMm; i++) {
      const pmd = pmdAt(m, parent, i);
      if (pmd.kind === 'none') continue;
      if (pmd.kind === 'leaf' && this.copyHugePmd(m, parent, child, i)) continue;
      this.copyPteRange(m, parent, child, i);
    }
    this.flushTlbMm(m, parent);
    return { kind: 'forked', child };
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
    this.pteAlloc(m, child, i);
    const base = pmdStart(m, i);
    for (let k = 0; k < m.geometry.ptrsPerPte; k++) {
      const v = asVpn(base + k);
      const pte = pteAt(m, parent, v);
      if (pte !== null && pte.kind === 'present') this.copyPresentPte(m, parent, child, v, pte);
    }
  }

  /**
   * Mirrors the single-PTE path of `copy_present_ptes()` (mm/memory.c, 6.12): reference before
   * mapcount; if `folio_try_dup_anon_rmap_pte()` fails (maybe pinned and exclusive) the child
   * gets its own copy now and the parent's PTE, exclusivity and pin stay untouched. The shared
   * zero page (`vm_normal_page()` NULL → `goto copy_pte`) is copied as an entry and nothing is
   * counted (`__copy_present_ptes()`: R/O already, old in the child).
   */
  copyPresentPte(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: PresentPte): void {
    if (isZeroPfn(m, pte.pfn)) {
      setPte(m, child, v, { ...pte, writable: false, young: false });
      mark(m, 'fork copied a zero-page PTE');
      return;
    }
    const head = folioHead(m, pte.pfn);
    this.folioGet(m, head);
    if (!this.folioTryDupAnonRmapPtes(m, parent, pte.pfn, 1, child)) {
      this.folioPut(m, head);
      this.copyPresentPage(m, child, v, pte);
      return;
    }
    if (pte.writable) setPte(m, parent, v, { ...pte, writable: false });
    setPte(m, child, v, { ...pte, writable: false, young: false });
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
