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
  // --- Stryker ids 649-1449 (gupRuns.ts … zap.ts): entries added by the second measure (docs/mutation.md). ---
  {
    name: 'gup-runs-adjacent-folios',
    state: 'GUP-fast, then the slow path, over PTE-mapped folios whose PFNs follow one another (two small folios, an order-1 and an order-2 folio, allocated in a row): runs must stop at each folio end even where the next PFN is adjacent (batched-gup-runs groups pages per folio); then the pins read, unpin, zap and drain balance every refcount',
    kills: ['gupRuns.ts:24 continuesRun() that ignores the folio (or the PFN order) test', 'gupRuns.ts:49-73 GUP-fast run loop', 'gupRuns.ts:111-126 the slow path run loop'],
    ops: [map(0, 0, 0), map(0, 1, 0), map(0, 2, 1), map(0, 4, 2), gup(0, 0, 0, 8, true, false, true), gup(1, 0, 0, 8, true, true, false),
      { kind: 'gupRead', handle: 0, index: 5 }, gupWrite(1, 3), access(1, 0, 3, false), { kind: 'unpin', handle: 0 }, { kind: 'zap', mm: 0, vpn: 0, nr: 8 }, { kind: 'unpin', handle: 1 }, drain],
  },
  {
    name: 'gup-runs-fast-stops',
    state: 'batched-gup-runs: GUP-fast must stop its walk at the end of the range (the next PTE is present), at a read-only PTE for a write pin (mprotect), at a none PTE, and after a run whose pages must be unshared (fork left folio A shared; folio B, mapped after the fork, is exclusive): the slow path takes the rest, in order',
    kills: ['gupRuns.ts:49 `v <= end`', 'gupRuns.ts:51 the break conditions', 'gupRuns.ts:63 and :71 returning after a run that was not kept whole'],
    ops: [map(0, 0, 1), fork(0), map(0, 2, 1), map(0, 4, 2), map(0, 9, 0), mprotect(0, 5, 1, false),
      gup(0, 0, 4, 1, true, false, true), gup(1, 0, 0, 4, true, false, true), gup(0, 0, 4, 4, true, true, true), gup(1, 0, 7, 3, true, true, true),
      fork(0), access(1, 0, 0, true), access(1, 0, 2, true), access(1, 0, 4, true), access(1, 0, 9, true),
      { kind: 'gupRead', handle: 1, index: 0 }, { kind: 'gupRead', handle: 1, index: 2 }, gupWrite(2, 1), gupWrite(3, 2), access(2, 0, 5, false), access(2, 2, 5, false), access(2, 2, 9, false),
      { kind: 'unpin', handle: 0 }, { kind: 'unpin', handle: 1 }, { kind: 'zap', mm: 0, vpn: 0, nr: 10 }, { kind: 'unpin', handle: 2 }, { kind: 'unpin', handle: 3 }, drain],
  },
  {
    name: 'migrate-read-only-stale-tlb',
    state: 'a clean read-only page (read-faulted in a read-only VMA: map() populates dirty PTEs, which MIGRC never defers) cached by another CPU, migrated: without MIGRC (batched-no-migrc) the read-only entries must be folded into the batch flush before the source is freed; with MIGRC the source is kept and the release (tick) must flush the CPUs the read-only entries were on; the freed source frame is then reused by a new folio and written, and that CPU reads the page again (through a stale entry it would read the new folio)',
    kills: ['migrate.ts:274-279 fold_ubc_ro() skipped', 'migrate.ts:283-285 fold_ubc_ro_to_migrc() skipped'],
    ops: [mprotect(0, 0, 1, false), access(1, 0, 0, false), { kind: 'migrate', mm: 0, vpn: 0, count: 1 }, map(0, 8, 0), access(2, 0, 8, true), access(1, 0, 0, false),
      { kind: 'tick' }, map(0, 9, 0), access(2, 0, 9, true), access(1, 0, 0, false), drain],
  },
  {
    name: 'migrc-then-mprotect-rw',
    state: 'MIGRC defers the flush of a clean read-only entry another CPU caches (mprotect RO, a read fault, migrate), then mprotect back to RW, preempted after the PTE is upgraded (no fault) and before tlb_finish_mmu(), and a GUP-fast write pin from a third CPU inside that window (a lockless walker, walkBegin/walkEnd: a gup op or a store that misses the TLB would wait for mmap_lock) that writes, then a load by the CPU holding the stale entry: change_pte_range()\'s flush_tlb_batched_pending() must have flushed the stale entry (the seed leaves mm->tlb_flush_batched counting the deferred entries), else that CPU reads the source, not the store (properties/batched.test.ts builds the same with a subclass)',
    kills: ['migrate.ts:265 incTlbFlushBatched() emptied'],
    ops: [mprotect(0, 0, 1, false), access(1, 0, 0, false), { kind: 'migrate', mm: 0, vpn: 0, count: 1 }, { kind: 'preempt', cpu: 0, at: 1 }, mprotect(0, 0, 1, true),
      { kind: 'walkBegin', cpu: 2, mm: 0, vpn: 0, walker: 'gupFast', pin: true, write: true }, { kind: 'walkEnd', cpu: 2 }, gupWrite(0, 0), access(1, 0, 0, false), { kind: 'resume', cpu: 0, points: 5 }, access(1, 0, 0, false), { kind: 'unpin', handle: 0 }, drain],
  },
  {
    name: 'mprotect-whole-pte-table',
    state: 'mprotect of a range covering a whole PTE table (16 pages in small; the generator draws short ranges) to read-only while another CPU holds a writable entry, then a fork, back to read-write and stores: a table wholly in the range goes to change_pte_range(), not to the PMD-leaf branch',
    kills: ['mprotect.ts:64 the PMD-leaf test made true (a covered table skipped)'],
    ops: [map(0, 0, 2), access(1, 0, 1, true), mprotect(0, 0, 16, false), access(1, 0, 1, true), access(2, 0, 1, true), fork(0), access(2, 0, 2, false), mprotect(0, 0, 16, true),
      access(1, 0, 1, true), access(2, 1, 1, false), drain],
  },
  {
    name: 'zap-zero-page',
    state: 'a zap over PTEs of the shared zero page (off in the default check) between pages of a large folio and a small one, read by another CPU before and after: a zero-page PTE is cleared and flushed but gathers, frees and uncounts nothing, and a batch never starts on it',
    kills: ['zap.ts:146-150 the zero-page branch of zap_present_ptes()'],
    machine: { zeroPage: true },
    ops: [access(0, 0, 3, false), map(0, 4, 2), access(0, 0, 8, false), write(0, 9), access(1, 0, 3, false), access(1, 0, 8, false), { kind: 'zap', mm: 0, vpn: 0, nr: 16 },
      access(1, 0, 3, false), access(1, 0, 5, true), access(2, 0, 8, false), drain],
  },
  // --- Stryker ids 0-648 re-measured (folioPteBatch.ts … gup.ts): entries added by the third measure (docs/mutation.md). ---
  {
    name: 'fork-folio-pages-out-of-order',
    state: 'fork of a large folio whose pages are no longer mapped in PFN order (mremap moved page 1, then page 0, to the adjacent pages after it) next to a page of another folio faulted into the hole, and a none PTE: the batch must stop where the next PTE maps another PFN than the next one of the folio, or none',
    kills: ['folioPteBatch.ts:52 the PFN-contiguity and presence tests of the batch scan'],
    ops: [map(0, 0, 2), { kind: 'mremap', mm: 0, from: 1, nr: 1, to: 9 }, { kind: 'mremap', mm: 0, from: 0, nr: 1, to: 10 }, write(0, 1), fork(0),
      access(1, 1, 1, false), access(1, 1, 2, false), access(1, 1, 3, false), access(1, 1, 9, false), access(1, 1, 10, false), access(1, 1, 11, false),
      write(0, 2), write(0, 9), write(0, 10), access(2, 1, 2, false), access(2, 1, 9, false), access(2, 1, 10, false), drain],
  },
  {
    name: 'gup-slow-path-preempted',
    state: 'a GUP slow path (a write pin of an unpopulated page) preempted inside its fault, other CPUs running meanwhile, then resumed: the batched kernel must run the stepped slow path, with the same points as the reference',
    kills: ['gup.ts:48 the plain slow path run instead of the stepped one (no preemption points)'],
    ops: [write(0, 0), { kind: 'preempt', cpu: 0, at: 1 }, gup(0, 0, 3, 2, true, true, false), access(1, 0, 0, true), access(2, 0, 0, false), { kind: 'resume', cpu: 0, points: 5 },
      gupWrite(0, 0), access(1, 0, 3, false), { kind: 'unpin', handle: 0 }, drain],
  },
  // --- Entries added when the generator changed again (docs/mutation.md, "The generator's third round"). ---
  {
    name: 'gup-fast-pmd-leaf-subpages',
    state: 'GUP-fast of pages in the middle of a PMD leaf: record_subpages() starts at the subpage of the address, and the handle must hold those pages (read through it after a store), one grab for all; then unpin, zap and drain balance every refcount',
    kills: ['recordSubpages.ts:16-18 the first subpage and the loop bounds', 'gup.ts:111 the handle pages (an empty object)', 'gup.ts:117 gupFastPmdLeaf() returning false after it kept the pages (the slow path takes them again)'],
    ops: [map(0, 16, 4, true), write(0, 23), write(0, 25), gup(1, 0, 23, 3, false, false, true), { kind: 'gupRead', handle: 0, index: 0 }, { kind: 'gupRead', handle: 0, index: 2 },
      { kind: 'unpin', handle: 0 }, { kind: 'zap', mm: 0, vpn: 16, nr: 16 }, drain],
  },
  {
    name: 'gup-fast-starts-or-stops-at-none',
    state: 'GUP-fast whose first PTE is none (the walk takes nothing, no run was started), one that stops at a none PTE after a run, and write pins that stop at a read-only PTE (after a writable one, and at the first PTE): batched-gup-runs must break out of its walk at each, before reading the entry, and grab only the run it has',
    kills: ['gupRuns.ts:58 the break conditions (none, not present, read-only for a write; the last alone needs the walk to start at the read-only PTE)', 'gupRuns.ts:79 the last run grabbed when there is none'],
    ops: [map(0, 0, 1), gup(0, 0, 2, 2, false, false, true), gup(0, 0, 0, 4, false, false, true), mprotect(0, 1, 1, false), gup(1, 0, 0, 2, true, true, true), gupWrite(2, 0),
      access(2, 0, 0, false), access(2, 0, 1, false), { kind: 'unpin', handle: 0 }, { kind: 'unpin', handle: 1 }, { kind: 'unpin', handle: 2 },
      gup(1, 0, 1, 1, true, true, true), access(2, 0, 1, false), drain],
  },
  {
    name: 'migrc-undo-then-migrate',
    state: 'MIGRC marks a clean read-only page pending (mprotect RO, a read fault), its move fails on a GUP reference (migrc_undo_folios()), the reference goes, and the page is migrated again: the undo must clear the pending flag, or the second move expects one reference too many and fails where the reference moves it',
    kills: ['migrc.ts:79 migrcUndoFolios() leaving the folio pending'],
    ops: [mprotect(0, 0, 1, false), access(1, 0, 0, false), gup(0, 0, 0, 1, false, false, false), { kind: 'migrate', mm: 0, vpn: 0, count: 1 }, { kind: 'unpin', handle: 0 },
      { kind: 'migrate', mm: 0, vpn: 0, count: 1 }, { kind: 'tick' }, access(1, 0, 0, false), drain],
  },
  {
    name: 'migration-task-splits-a-folio',
    state: 'a migration as a preempted task over a partly mapped large folio (split first, its pieces migrated after the whole folios) and a small one, resumed to its end with nothing in its window (an access there would be a race, after which the count may differ): the folios it moved must be what the reference moved (the result is compared when both tasks complete); the migrate entries of random sequences are rarely both preempted and partly mapped within the 8 interleaved sequences of the budget',
    kills: ['migrate.ts:101 split pieces migrated as one whole folio', 'migrate.ts:105 the pieces\' count subtracted'],
    ops: [map(0, 0, 0), { kind: 'map', mm: 0, vpn: 4, order: 2, pmd: false, first: 0, count: 2 }, { kind: 'preempt', cpu: 0, at: 1 }, { kind: 'migrate', mm: 0, vpn: 0, count: 3 },
      { kind: 'resume', cpu: 0, points: 20 }, access(1, 0, 0, false), access(1, 0, 4, true), access(2, 0, 5, false), drain],
  },
];
