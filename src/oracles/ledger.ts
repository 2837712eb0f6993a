import { assertNever } from '../../models/assertNever';
import { folioNrPages } from '../../models/machine/geometry';
import type { Pfn } from '../../models/machine/ids';
import { pfn as asPfn } from '../../models/machine/ids';
import type { Folio, Machine } from '../../models/machine/state';
import type { LedgerViolation } from '../../models/machine/violation';
import { ModelViolationError } from '../../models/machine/violation';
import { tableEntries } from '../../models/machine/pgtable';
import { gupHold, walkerHeldRefs } from './walkerRefs';
import { auditMmIds, tracksMmId } from './mmIds';
import { folioTestAnon, inSharedFileVma } from '../../models/machine/files';
import { countUsedInChunk, FRAME_CHUNK } from '../../models/machine/frameChunks';

/** What the page tables and the holders imply for every frame. */
interface Implied {
  /** PTE mappings per PFN. */
  readonly pte: Int32Array;
  /** PMD mappings per head PFN. */
  readonly pmd: Int32Array;
  /** References held by GUP handles and deferred-flush lists, per head PFN. */
  readonly held: Int32Array;
  /** FOLL_PIN pins per head PFN. */
  readonly pins: Int32Array;
  /** Per PFN, the FLAG_* bits below. */
  readonly flags: Uint8Array;
  /** Swap PTEs per swap slot (absent: none), and the slots some swap PTE marks exclusive. */
  readonly swapPtes: Map<number, number>;
  readonly exclusiveSwap: Set<number>;
  /** The PFNs written above (each once; `marked` says which), so the next audit zeroes only those. */
  readonly touched: number[];
  readonly marked: Uint8Array;
  /** Per FRAME_CHUNK chunk: some PFN in it was written above (a free frame there may be mapped). */
  readonly chunkTouched: Uint8Array;
}

/** Note that the tallies at `p` are written (before writing them). */
function touch(t: Implied, p: number): void {
  if (t.marked[p] !== 0) return;
  t.marked[p] = 1;
  t.touched.push(p);
  t.chunkTouched[Math.floor(p / FRAME_CHUNK)] = 1;
}

/** A page of a pin handle (it must be exclusive while mapped). */
const PINNED = 1;
/** Mapped writable by a PTE. */
const WRITABLE_PTE = 2;
/** Mapped writable by a PTE outside every MAP_SHARED file VMA. */
const WRITABLE_UNSHARED = 4;
/** A head mapped writable by a PMD. */
const WRITABLE_PMD = 8;

/**
 * The per-frame tallies, kept per machine and zeroed at each audit: the audit runs after every
 * step, and arrays of nrFrames made (or zeroed whole) each time were most of its cost; only the
 * entries the last audit wrote are zeroed.
 */
const scratch = new WeakMap<Machine, Implied>();

function emptyImplied(m: Machine): Implied {
  const n = m.frames.length;
  let t = scratch.get(m);
  if (t === undefined || t.pte.length !== n) {
    t = {
      pte: new Int32Array(n),
      pmd: new Int32Array(n),
      held: new Int32Array(n),
      pins: new Int32Array(n),
      flags: new Uint8Array(n),
      swapPtes: new Map(),
      exclusiveSwap: new Set(),
      touched: [],
      marked: new Uint8Array(n),
      chunkTouched: new Uint8Array(Math.ceil(n / FRAME_CHUNK)),
    };
    scratch.set(m, t);
    return t;
  }
  for (const p of t.touched) {
    t.pte[p] = 0;
    t.pmd[p] = 0;
    t.held[p] = 0;
    t.pins[p] = 0;
    t.flags[p] = 0;
    t.marked[p] = 0;
    t.chunkTouched[Math.floor(p / FRAME_CHUNK)] = 0;
  }
  t.touched.length = 0;
  t.swapPtes.clear();
  t.exclusiveSwap.clear();
  return t;
}

/**
 * A migration entry (PTE or PMD) at an op boundary: migration unmaps and remaps inside its op,
 * so a kernel that leaves one behind has lost a mapping (and faults on it would wait forever).
 */
function migrationEntryViolation(step: number, mm: number, where: string): ModelViolationError {
  return new ModelViolationError({ code: 'kernel_warn', step, message: `migration entry left at ${where} of mm ${mm} after the op` });
}

function tally(m: Machine, step: number): Implied {
  const t = emptyImplied(m);
  const perTable = m.geometry.ptrsPerPte;
  for (const mm of m.mms) {
    if (!mm.alive) continue;
    for (let i = 0; i < mm.pmds.length; i++) {
      const pmd = mm.pmds[i]!;
      switch (pmd.kind) {
        case 'none':
          break;
        case 'migration':
          throw migrationEntryViolation(step, mm.id, `pmd ${i}`);
        case 'leaf':
          touch(t, pmd.pfn);
          t.pmd[pmd.pfn]!++;
          if (pmd.writable) t.flags[pmd.pfn]! |= WRITABLE_PMD;
          break;
        case 'table': {
          const ptes = tableEntries(m, pmd.table);
          for (let k = 0; k < ptes.length; k++) {
            const pte = ptes[k]!;
            if (pte.kind === 'none') continue;
            if (pte.kind === 'migration') throw migrationEntryViolation(step, mm.id, `pmd ${i} pte ${k}`);
            if (pte.kind === 'swap') {
              t.swapPtes.set(pte.slot, (t.swapPtes.get(pte.slot) ?? 0) + 1);
              if (pte.exclusive) t.exclusiveSwap.add(pte.slot);
              continue;
            }
            touch(t, pte.pfn);
            t.pte[pte.pfn]!++;
            if (!pte.writable) continue;
            t.flags[pte.pfn]! |= WRITABLE_PTE;
            if (!inSharedFileVma(m, mm.id, i * perTable + k)) t.flags[pte.pfn]! |= WRITABLE_UNSHARED;
          }
          break;
        }
        default:
          assertNever(pmd);
      }
    }
  }
  for (const h of m.handles) {
    for (const p of h.pages) {
      const head = m.frames[p.pfn]?.head ?? p.pfn;
      const cost = gupHold(m, head, h.pin, 1);
      touch(t, head);
      touch(t, p.pfn);
      t.held[head]! += cost.refs;
      t.pins[head]! += cost.pins;
      if (h.pin) t.flags[p.pfn]! |= PINNED;
    }
  }
  for (const head of m.migrc.pending) {
    touch(t, head);
    t.held[head]!++;
  }
  // A GUP-fast walk in flight holds the reference (or pin) it grabbed until it rechecks.
  for (const [head, h] of walkerHeldRefs(m)) {
    touch(t, head);
    t.held[head]! += h.refs;
    t.pins[head]! += h.pins;
  }
  return t;
}

/**
 * The ledger audit (docs/design.md, "Oracles"), after every op: recompute from the page tables, the GUP
 * handles and the deferred-flush list what every folio's refcount, pincount and mapcounts must
 * be, and compare with the stored struct-page fields; then the exclusivity rules (a writable
 * anonymous mapping maps an exclusive page, an exclusive page is mapped at most once, a pinned
 * mapped page is exclusive), the deferred split rule, and 6.15's MM_ID slots (mmIds.ts). Throws
 * the first finding.
 */
export function auditLedger(m: Machine, step: number, scope: LedgerScope = 'in use'): void {
  const full = scope === 'full';
  const t = tally(m, step);
  const fail = (code: LedgerViolation['code'], p: Pfn, folio: Folio | null, detail: string): never => {
    throw new ModelViolationError({ code, step, folio: folio?.id ?? `pfn ${p}`, pfn: p, detail });
  };
  for (const h of m.handles) {
    for (const p of h.pages) {
      const f = m.frames[p.pfn];
      if (f === undefined || f.gen !== p.gen || (f.state !== 'data' && f.state !== 'zero')) {
        fail('freed_frame_in_use', p.pfn, null, `GUP handle ${h.id} holds a page that was freed`);
      }
    }
  }
  let free = 0;
  const mmIdTracked: Pfn[] = [];
  for (let i = 0; i < m.frames.length; i++) {
    // A chunk with no frame in use and none of its PFNs mapped or held has nothing to find: its
    // frames are free and counted so. The full audit looks at them all, and first recounts the
    // chunk (while its frames are in cache: a cold pass over 16,384 frames costs milliseconds).
    if (i % FRAME_CHUNK === 0) {
      const c = i / FRAME_CHUNK;
      if (full) auditChunkCount(m, c, step);
      else if (m.usedPerChunk[c] === 0 && t.chunkTouched[c] === 0) {
        const end = Math.min(i + FRAME_CHUNK, m.frames.length);
        free += end - i;
        i = end - 1;
        continue;
      }
    }
    const fr = m.frames[i]!;
    // Most frames are free (16,384 of them on realistic): the one check that applies to them first.
    if (fr.state === 'free') {
      free++;
      if (t.pte[i] !== 0 || t.pmd[i] !== 0) fail('freed_frame_in_use', asPfn(i), null, `free frame is mapped by ${t.pte[i]! + t.pmd[i]!} page-table entries`);
      continue;
    }
    const p = asPfn(i);
    if (tracksMmId(fr)) mmIdTracked.push(p);
    if (fr.state === 'zero') {
      auditZeroPage(m, p, t, fail);
      continue;
    }
    if (fr.state !== 'data') {
      if (t.pte[i]! > 0 || t.pmd[i]! > 0) fail('freed_frame_in_use', p, null, `${fr.state} frame is mapped by ${t.pte[i]! + t.pmd[i]!} page-table entries`);
      continue;
    }
    if (fr.folio === null) continue;
    auditFolio(m, p, fr.folio, t, fail);
  }
  if (free !== m.freeFrames) throw new ModelViolationError({ code: 'kernel_warn', step, message: `allocator counts ${m.freeFrames} free frames, ${free} are free` });
  auditSwap(m, t, fail);
  auditPageCache(m, fail);
  auditMmIds(m, step, mmIdTracked);
}

/**
 * How much of memory an audit looks at: 'in use' skips the chunks of frames the allocator counts
 * as all free and that nothing maps or holds; 'full' looks at every frame and recounts the
 * allocator's chunk counts (at the drain that ends every sequence, and at every step with
 * MMCHECK_FULL_AUDIT=1: src/run/checkedRun.ts).
 */
export type LedgerScope = 'in use' | 'full';

/** The allocator's count of frames in use in chunk `c` equals a recount (the 'in use' audit relies on them). */
function auditChunkCount(m: Machine, c: number, step: number): void {
  if (countUsedInChunk(m, c) === m.usedPerChunk[c]) return;
  throw new ModelViolationError({ code: 'kernel_warn', step, message: `frames ${c * FRAME_CHUNK}-${(c + 1) * FRAME_CHUNK - 1}: the allocator counts ${m.usedPerChunk[c]} in use, not what their states say (a frame's state was changed outside frameChunks.ts setFrameState())` });
}

/** Every page-cache entry is a page of a live folio of that file at that index (the folio side is checked in auditFolio). */
function auditPageCache(m: Machine, fail: Fail): void {
  for (const file of m.files ?? []) {
    file.cache.forEach((p, index) => {
      if (p === null) return;
      const fr = m.frames[p];
      const f = fr === undefined || fr.state !== 'data' ? null : (m.frames[fr.head]?.folio ?? null);
      if (f === null || fr === undefined || f.mapping?.file !== file.id || f.mapping.index + (p - fr.head) !== index) {
        fail('freed_frame_in_use', p, f, `the page cache of file ${file.id} holds page ${p} at index ${index}, which is not that page of the file`);
      }
    });
  }
}

type Fail = (code: LedgerViolation['code'], p: Pfn, folio: Folio | null, detail: string) => never;

/**
 * The shared zero page (createMachine's `zeroPage` option): its PTEs hold no mapcount and no
 * reference (`vm_normal_page()` is NULL for them), so its struct page never changes — except for
 * the plain references FOLL_GET takes (`try_grab_folio()`), which must equal what the GUP
 * handles and walks hold; FOLL_PIN takes none. It is never mapped writable (no path may make a
 * special PTE writable: a store would change the page every mm reads as zero) and never
 * PMD-mapped (the model has no huge zero page).
 */
function auditZeroPage(m: Machine, p: Pfn, t: Implied, fail: Fail): void {
  const fr = m.frames[p]!;
  const gupRefs = m.zeroPage?.gupRefs ?? 0;
  if ((t.flags[p]! & WRITABLE_PTE) !== 0) fail('writable_not_exclusive', p, null, 'the shared zero page is mapped writable');
  if (t.pmd[p]! > 0) fail('mapcount_mismatch', p, null, `the shared zero page is PMD-mapped ${t.pmd[p]} times (there is no huge zero page)`);
  if (fr.mapcount !== 0 || fr.anonExclusive) fail('mapcount_mismatch', p, null, `the shared zero page has _mapcount ${fr.mapcount}${fr.anonExclusive ? ' and PageAnonExclusive' : ''}; its PTEs are special`);
  if (gupRefs !== t.held[p]) fail('refcount_mismatch', p, null, `GUP references on the shared zero page ${gupRefs}, FOLL_GET holds ${t.held[p]}`);
}

function auditFolio(m: Machine, head: Pfn, f: Folio, t: Implied, fail: Fail): void {
  const nr = folioNrPages(f.order);
  const anon = folioTestAnon(f);
  let ptes = 0;
  let mappedPages = 0;
  const pmds = t.pmd[head]!;
  for (let k = 0; k < nr; k++) {
    const p = asPfn(head + k);
    const fr = m.frames[p]!;
    const implied = t.pte[p]!;
    ptes += implied;
    if (implied > 0) mappedPages++;
    if (fr.mapcount !== implied) fail('mapcount_mismatch', p, f, `page ${k}: _mapcount ${fr.mapcount}, PTEs mapping it ${implied}`);
    // A PMD mapping keeps PageAnonExclusive on the head only.
    const exclusive = pmds > 0 ? m.frames[head]!.anonExclusive : fr.anonExclusive;
    if ((t.flags[p]! & WRITABLE_PTE) !== 0 && anon && !fr.anonExclusive) fail('writable_not_exclusive', p, f, `page ${k} is mapped writable but not PageAnonExclusive`);
    // Dirty tracking (page_mkwrite): a page-cache page is mapped writable only while its folio is dirty.
    // A store to a MAP_PRIVATE mapping copies the page: the page cache's page is never writable there.
    if ((t.flags[p]! & WRITABLE_UNSHARED) !== 0 && !anon) fail('private_file_page_writable', p, f, `page ${k} of file ${f.mapping?.file} is mapped writable outside a MAP_SHARED mapping`);
    if ((t.flags[p]! & WRITABLE_PTE) !== 0 && !anon && !f.dirty) fail('writable_file_page_clean', p, f, `page ${k} of file ${f.mapping?.file} is mapped writable but its folio is clean`);
    if (fr.anonExclusive && implied + pmds > 1) fail('exclusive_mapped_twice', p, f, `page ${k} is PageAnonExclusive but mapped ${implied + pmds} times`);
    if ((t.flags[p]! & PINNED) !== 0 && implied + pmds > 0 && !exclusive) {
      fail('pinned_not_exclusive', p, f, `page ${k} is pinned and mapped but not exclusive`);
    }
  }
  if (f.order > 0) {
    if (f.entireMapcount !== pmds) fail('mapcount_mismatch', head, f, `_entire_mapcount ${f.entireMapcount}, PMDs mapping it ${pmds}`);
    if (f.largeMapcount !== ptes + pmds) fail('mapcount_mismatch', head, f, `_large_mapcount ${f.largeMapcount}, mappings ${ptes + pmds}`);
    if (f.pincount !== t.pins[head]) fail('pincount_mismatch', head, f, `_pincount ${f.pincount}, pins held ${t.pins[head]}`);
    if ((t.flags[head]! & WRITABLE_PMD) !== 0 && !m.frames[head]!.anonExclusive) fail('writable_not_exclusive', head, f, 'PMD-mapped writable but the head is not PageAnonExclusive');
    if (anon && f.order > 1 && pmds === 0 && mappedPages > 0 && mappedPages < nr && !f.deferredSplit) {
      fail('deferred_split_missing', head, f, `${mappedPages} of ${nr} pages mapped, not on the deferred split queue`);
    }
  }
  const cache = f.swap !== null ? nr : 0;
  const pageCache = anon ? 0 : nr;
  const expected = ptes + pmds + t.held[head]! + cache + pageCache;
  if (f.refcount !== expected) {
    fail('refcount_mismatch', head, f, `_refcount ${f.refcount}, expected ${expected} (${ptes} PTE + ${pmds} PMD mappings, ${t.held[head]} held by GUP, GUP-fast walks or a deferred flush, ${cache} by the swap cache, ${pageCache} by the page cache)`);
  }
  if (f.mapping !== undefined) {
    const file = m.files?.[f.mapping.file];
    for (let k = 0; k < nr; k++) {
      if (file?.cache[f.mapping.index + k] !== head + k) fail('refcount_mismatch', head, f, `folio ${f.id} of file ${f.mapping.file} at index ${f.mapping.index} is not in the page cache at index ${f.mapping.index + k}`);
    }
  }
  const base = f.swap;
  for (let k = 0; base !== null && k < nr; k++) {
    if (m.swap?.slots[base + k]?.cached !== head + k) fail('swap_count_mismatch', head, f, `folio ${f.id} is in the swap cache at slot ${base + k}, which does not hold its page ${k}`);
  }
}

/**
 * The swap device (issue 13): every slot's count equals the swap PTEs that refer to it (over the
 * live mms); a slot's swap-cache page is a page of a folio in the swap cache at that slot, and
 * every folio in the swap cache is found at each of its slots; a slot an exclusive swap PTE
 * refers to has only that one reference (the page was exclusive when it was unmapped, and fork
 * clears the bit when it shares the entry); and no swap PTE refers to a free slot. (That a folio
 * in the swap cache is found at each of its slots is checked with its references, auditFolio.)
 */
function auditSwap(m: Machine, t: Implied, fail: Fail): void {
  const slots = m.swap?.slots ?? [];
  for (const [slot, n] of t.swapPtes) {
    const s = slots[slot];
    if (s === undefined || s.count !== n) fail('swap_count_mismatch', asPfn(slot), null, `swap slot ${slot}: count ${s?.count ?? 'none'}, swap PTEs referring to it ${n}`);
  }
  // The slots swap PTEs refer to have their counts right by now: the rest must count none. (A
  // plain loop with the map consulted only where a slot is in use: it runs over every slot, every step.)
  for (let slot = 0; slot < slots.length; slot++) {
    const s = slots[slot]!;
    if (s.count !== 0 && !t.swapPtes.has(slot)) fail('swap_count_mismatch', asPfn(slot), null, `swap slot ${slot}: count ${s.count}, swap PTEs referring to it 0`);
    if (s.count > 1 && t.exclusiveSwap.has(slot)) fail('swap_count_mismatch', asPfn(slot), null, `swap slot ${slot} is referred to by ${s.count} swap PTEs, one of them exclusive`);
    if (s.cached === null) continue;
    const head = m.frames[s.cached]?.head;
    const f = head === undefined ? null : m.frames[head]?.folio ?? null;
    if (f === null || head === undefined || f.swap === null || f.swap + (s.cached - head) !== slot) {
      fail('swap_count_mismatch', asPfn(slot), f, `swap slot ${slot} has page ${s.cached} in the swap cache, which is not in the swap cache at that slot`);
    }
  }
}
