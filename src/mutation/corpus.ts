import type { MachineOptions } from '../../models/machine/create';
import type { Op } from '../ops/op';

/**
 * Hand-written sequences that build states the random generator almost never builds within the
 * mutation budget, each run by src/mutation/command.ts before the random phases (a few ms each).
 * Every entry names the state, the Stryker mutant(s) of models/batched/ it kills (by file, line
 * and replacement: ids change when the files do) and ends with a drain, as a check's sequence is
 * judged. Each must HOLD on every correct kernel (properties/mutationCorpus.test.ts) — they are
 * also what the generator should learn to build (issue 12, docs/mutation.md).
 */
export interface CorpusEntry {
  readonly name: string;
  /** The state the sequence builds, and why the generator misses it. */
  readonly state: string;
  /** The mutants it kills: `file:line replacement`. */
  readonly kills: readonly string[];
  readonly ops: readonly Op[];
  /** Machine options the state needs (the shared zero page is off in the default check). */
  readonly machine?: MachineOptions;
}

const map = (mm: number, vpn: number, order: number, pmd = false): Op => ({ kind: 'map', mm, vpn, order, pmd, first: 0, count: 1 << order });
const mprotect = (mm: number, vpn: number, nr: number, writable: boolean): Op => ({ kind: 'mprotect', mm, vpn, nr, writable });
const access = (cpu: number, mm: number, vpn: number, write: boolean): Op => ({ kind: 'access', cpu, mm, vpn, write });
const fork = (mm: number): Op => ({ kind: 'fork', mm });
const gup = (cpu: number, mm: number, vpn: number, nr: number, pin: boolean, write: boolean, fast: boolean): Op => ({ kind: 'gup', cpu, mm, vpn, nr, pin, write, fast });
const gupWrite = (handle: number, index: number): Op => ({ kind: 'gupWrite', handle, index });
const drain: Op = { kind: 'drain' };

const write = (mm: number, vpn: number): Op => access(0, mm, vpn, true);
const nowaitFail = (nr: number): Op => ({ kind: 'nowaitFail', nr });

export const MUTATION_CORPUS: readonly CorpusEntry[] = [
  {
    name: 'fork-batch-first-pte-read-only',
    state: 'a PTE-mapped large folio whose first PTE is read-only and the rest writable (mprotect RO of its first page), then fork: the batch must write-protect the writable PTEs after the first',
    kills: ['folioPteBatch.ts:52 anyWritable &&= next.writable'],
    ops: [map(0, 0, 2), mprotect(0, 0, 1, false), fork(0), access(0, 0, 1, true), access(1, 1, 1, false), drain],
  },
  {
    name: 'exit-frees-table-batch',
    state: 'an exit that frees three PTE tables (MAX_TABLE_BATCH is 2 in small): a full table batch goes to RCU (or, without RCU table free, with the pages), the third with the gather',
    kills: ['BatchedNoRcuTableFree.ts:31 tlbRemoveTableFree() emptied (the tables leak)'],
    ops: [write(0, 0), write(0, 16), write(0, 32), fork(0), { kind: 'exit', mm: 1 }, drain],
  },
  {
    name: 'table-batch-page-fails',
    state: 'an exit whose table-batch page allocation fails (nowaitFail): each table is invalidated and freed on its own',
    kills: ['BatchedNoRcuTableFree.ts:40 tlbRemoveTableOne() emptied (the table leaks)'],
    ops: [write(0, 0), write(0, 16), fork(0), nowaitFail(4), { kind: 'exit', mm: 1 }, drain],
  },
  {
    name: 'zap-pmd-leaf',
    state: 'a PMD-mapped folio read through a TLB entry of another CPU, zapped whole, then the range mapped again and read from that CPU: the zap must record the leaf range for the flush',
    kills: ['gather.ts:65 tlbRemovePmdTlbEntry() emptied', 'gather.ts:144-149 tlb_remove_page_size() and its raw half emptied or always full'],
    ops: [map(0, 16, 4, true), access(1, 0, 17, false), { kind: 'zap', mm: 0, vpn: 16, nr: 16 }, map(0, 16, 4), access(1, 0, 17, false), drain],
  },
  {
    name: 'folio-across-table-boundary',
    state: 'a PTE-mapped large folio moved by mremap so that it straddles two PTE tables, then fork and zap over the boundary: every batch must stop at the table end (the generator maps folios aligned; only an mremap to an unaligned address near a PMD boundary builds this)',
    kills: ['fork.ts:66 maxNr `ppt + k` (the stepped path; :65 is the plain twin)'],
    ops: [map(0, 0, 2), { kind: 'mremap', mm: 0, from: 0, to: 14, nr: 4 }, fork(0), { kind: 'zap', mm: 0, vpn: 12, nr: 8 }, access(1, 1, 16, true), drain],
  },
  {
    name: 'gup-fast-write-pin-read-only-pmd-leaf',
    state: 'GUP-fast asked for a writable pin of a PMD leaf that fork made read-only: pmd_access_permitted() must send it to the slow path, which unshares (copies) first; the pin then writes and the child reads',
    kills: ['gup.ts:98 `if (false)` (pmd_access_permitted() ignored)'],
    ops: [map(0, 16, 4, true), fork(0), gup(0, 0, 17, 2, true, true, true), gupWrite(0, 0), access(1, 1, 17, false), drain],
  },
  {
    name: 'gup-fast-read-only-pin-after-fork',
    state: 'GUP-fast R/O FOLL_PIN of pages fork left shared, a PMD leaf and a PTE-mapped page: gup_must_unshare() must send both to the slow path, which unshares (copies) first; then the parent writes and the pins read',
    kills: ['gup.ts:102-104 the unshare test of gup_fast_pmd_leaf() skipped or its put-back block emptied, or true returned after the put-back'],
    ops: [map(0, 16, 4, true), map(0, 0, 0), fork(0), gup(0, 0, 16, 2, true, false, true), gup(0, 0, 0, 1, true, false, true), access(1, 0, 16, true), access(1, 0, 0, true),
      { kind: 'gupRead', handle: 0, index: 0 }, { kind: 'gupRead', handle: 1, index: 0 }, drain],
  },
  {
    name: 'gup-slow-pmd-leaf-run',
    state: 'the slow path (no GUP-fast) pinning several pages of a PMD leaf: page_increm takes the rest of the leaf with one more try_grab_folio(); then an unpin, a zap and a drain (the refcounts must balance)',
    kills: ['gup.ts:161-166 and gup.ts:180-181: page_increm and the one-more grab'],
    ops: [map(0, 16, 4, true), gup(0, 0, 18, 5, true, false, false), gup(1, 0, 30, 4, false, false, false), { kind: 'gupRead', handle: 0, index: 4 }, { kind: 'unpin', handle: 0 },
      { kind: 'zap', mm: 0, vpn: 16, nr: 16 }, { kind: 'unpin', handle: 0 }, drain],
  },
  {
    name: 'mprotect-pmd-leaf',
    state: 'mprotect of a whole PMD leaf to read-only while another CPU holds a writable TLB entry for it, back to read-write, then of part of it (the leaf is split first): each downgrade must be flushed, each store and load must see the same values as the reference',
    kills: ['mprotect.ts:64-71 the PMD-leaf branch of change_pmd_range() (skipped, split or not, huge_pmd_needs_flush() ignored)'],
    ops: [map(0, 16, 4, true), access(1, 0, 17, true), mprotect(0, 16, 16, false), access(2, 0, 18, false), access(1, 0, 17, true), mprotect(0, 16, 16, true), access(1, 0, 17, true),
      access(2, 0, 17, false), mprotect(0, 20, 4, false), access(1, 0, 20, true), access(2, 0, 21, false), drain],
  },
  {
    name: 'fork-pinned-large-folio',
    state: 'fork of a PTE-mapped large folio with one page pinned (FOLL_PIN, R/W): the batch must fall back per PTE and copy the pinned page for the child; the pin then writes and the child reads',
    kills: ['fork.ts:117 the fallback block emptied', 'fork.ts:121 return {} instead of -EAGAIN', 'fork.ts:113 the batched path taken while a page is preallocated'],
    ops: [map(0, 0, 2), gup(0, 0, 1, 1, true, true, false), fork(0), gupWrite(0, 0), access(1, 1, 1, false), drain],
  },
  {
    name: 'fork-pinned-folio-first-page-shared',
    state: "fork of a pinned large folio whose first page is not exclusive but a later one is (6.15's large-folio reuse makes page 1 exclusive again; 6.12 never does, so only batched-6.15 builds it): the batch falls back, the per-PTE retry shares page 0 while holding the preallocated page, then copies pinned page 1 into it",
    kills: ['fork.ts:75 prealloc dropped after a PTE copied without it', 'fork.ts:138 usedPrealloc true for a per-PTE copy that did not use it'],
    ops: [map(0, 0, 2), fork(0), { kind: 'exit', mm: 1 }, access(0, 0, 1, true), gup(0, 0, 1, 1, true, true, false), fork(0), gupWrite(0, 0), access(1, 1, 1, false), access(1, 1, 0, true), drain],
  },
  {
    name: 'fork-zero-page',
    state: 'fork of an mm mapping the shared zero page (off in the default check): the PTE is copied as an entry, nothing counted; then both write',
    kills: ['fork.ts:107 the zero-page branch (condition false, block emptied, an empty result object)'],
    machine: { zeroPage: true },
    ops: [access(0, 0, 3, false), access(0, 0, 4, false), fork(0), access(1, 1, 3, true), access(0, 0, 4, true), access(2, 1, 4, false), drain],
  },
];
