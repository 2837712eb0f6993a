import type { MmId, Pfn } from '../../models/machine/ids';
import { vpn as asVpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { mmNrPages } from '../../models/machine/geometry';
import { folioAt, folioHead, frameAt } from '../../models/machine/frames';
import { liveMms, mappedPfn, pmdAt, pmdIndexOf } from '../../models/machine/pgtable';
import { isZeroPfn } from '../../models/machine/zeroPage';

/**
 * What a user program can see of one mapped page on a real kernel: the frame (through
 * /proc/<pid>/pagemap), its mapcount (/proc/kpagecount), pagemap's "exclusively mapped" bit 56,
 * whether it is part of a THP and the folio's order (/proc/kpageflags), whether it is the shared
 * zero page, and the word the program reads at its start. Frames are compared by identity class,
 * never by number (see canonical.ts).
 */
export interface PageObservation {
  readonly mm: number;
  readonly vpn: number;
  readonly pfn: number;
  /** The folio's first frame: which pages are parts of one folio. */
  readonly head: number;
  readonly mapcount: number;
  readonly exclusive: boolean;
  readonly thp: boolean;
  readonly order: number;
  readonly zero: boolean;
  readonly value: number;
}

/** Everything one step shows: what the op returned (`value 7`, `segv`, `pinned 4`, …) and every mapped page after it. */
export interface StepObservation {
  readonly step: number;
  readonly results: readonly string[];
  readonly pages: readonly PageObservation[];
}

/**
 * The model's view of one page, computed as 6.18 computes it with CONFIG_PAGE_MAPCOUNT:
 * /proc/kpagecount is `folio_precise_page_mapcount()` (the page's own PTE mappings plus the
 * folio's PMD mappings); pagemap's bit 56 is that count == 1 (`__folio_page_mapped_exclusively()`,
 * fs/proc/task_mmu.c, 6.15+) — for a PMD mapping taken of the page the walk starts at, which for a
 * read of the whole region is the folio's head (`pagemap_pmd_range_thp()` passes `page`, not
 * `page + idx`, since 6.15).
 */
export function observeModel(m: Machine, step: number, results: readonly string[]): StepObservation {
  const pages: PageObservation[] = [];
  for (const mm of liveMms(m)) {
    for (let v = 0; v < mmNrPages(m.geometry); v++) {
      const p = mappedPfn(m, mm.id, asVpn(v));
      if (p === null) continue;
      pages.push(isZeroPfn(m, p) ? { mm: mm.id, vpn: v, pfn: p, head: p, mapcount: 0, exclusive: false, thp: false, order: 0, zero: true, value: 0 } : observePage(m, mm.id, v, p));
    }
  }
  return { step, results, pages };
}

function preciseMapcount(m: Machine, p: Pfn): number {
  const head = folioHead(m, p);
  const f = folioAt(m, head);
  return frameAt(m, p).mapcount + (f.order > 0 ? f.entireMapcount : 0);
}

function observePage(m: Machine, mm: MmId, v: number, p: Pfn): PageObservation {
  const i = pmdIndexOf(m, asVpn(v));
  const pmd = pmdAt(m, mm, i);
  const head = folioHead(m, p);
  const f = folioAt(m, head);
  const mapcount = preciseMapcount(m, p);
  const walkStart = pmd.kind === 'leaf' ? (pmd.pfn as Pfn) : p;
  return {
    mm,
    vpn: v,
    pfn: p,
    head,
    mapcount,
    exclusive: preciseMapcount(m, walkStart) === 1,
    thp: f.order > 0,
    order: f.order,
    zero: false,
    value: frameAt(m, p).content,
  };
}
