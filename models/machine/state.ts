import type { Geometry } from './geometry';
import type { CpuId, HandleId, MmId, Pfn, Vpn } from './ids';
import type { PmdEntry, Pte } from './pte';
import type { KernelTaskView } from './tasks';
import type { LockRef, LockState } from './locks';
import type { AllocPolicy } from './physMem';
import type { SwapDevice } from './swap';
import type { FileState, VmaFile } from './files';

/**
 * The whole machine as plain data: frames with their struct-page fields, mms with page tables,
 * CPUs with TLBs and lockless walkers, RCU, GUP handles and cost counters. Kernels receive it and
 * change it; they keep no state of their own. `structuredClone` snapshots it for traces.
 *
 * Counts are stored unbiased (0 = unmapped) where the kernel stores them biased by -1
 * (`_mapcount`, `_large_mapcount`, `_entire_mapcount`): the diffs read better that way.
 */
export interface Machine {
  readonly geometry: Geometry;
  /** Indexed by PFN. */
  readonly frames: Frame[];
  /** Indexed by MmId; an exited mm stays with `alive: false` so ids are never reused. */
  readonly mms: Mm[];
  /** Indexed by CpuId. */
  readonly cpus: Cpu[];
  /** Live GUP handles, in creation order. */
  handles: GupHandle[];
  nextHandleId: number;
  readonly rcu: RcuState;
  /** Deferred-flush bookkeeping for a kernel that defers migration flushes (MIGRC). */
  readonly migrc: MigrcState;
  /** Logical allocation clock: which op is running and how many folios it has allocated. */
  readonly clock: AllocClock;
  /** Lowest PFN that may be free: a search hint for the allocator, never a correctness input. */
  allocHint: number;
  /**
   * Where the allocator looks first (an `allocPolicy` op sets it; physMem.ts). Absent means
   * 'lowest-first', today's first fit, so a machine without the op is byte-identical to before.
   */
  allocPolicy?: AllocPolicy;
  /** Frames in state 'free', kept by the allocator (the ledger audit recounts it). */
  freeFrames: number;
  /**
   * Frames not in state 'free', per run of FRAME_CHUNK frames (frameChunks.ts `setFrameState()`):
   * the ledger audit skips a chunk with none in use and none mapped, so its cost follows what is
   * allocated, not the size of memory (16,384 frames on `realistic`, most of them free).
   */
  readonly usedPerChunk: number[];
  /**
   * How many of the next GFP_NOWAIT allocations fail (a `nowaitFail` op sets it; each failed
   * allocation uses one up): the generator, not the model, decides when the mmu_gather's batch
   * pages cannot be had, so the forced-flush paths are explored and shrink like any other op.
   */
  nowaitFailures: number;
  readonly stats: Stats;
  /**
   * Tracepoints: named events kernels report for coverage measurement (a gather that filled, a
   * batch cut at the folio end, …). Like the stats, they never affect behaviour.
   */
  readonly marks: Record<string, number>;
  /** Lock bookkeeping: which context runs kernel code now and what the atomic one holds (locks.ts). */
  readonly locks: LockState;
  /**
   * The shared zero page (`empty_zero_page`, `my_zero_pfn()`), present only when the machine was
   * created with `{ zeroPage: true }` (absent, not null, otherwise, so a machine without it is
   * byte-identical to one from before the option existed). See ZeroPage.
   */
  readonly zeroPage?: ZeroPage;
  /**
   * The swap device (swap.ts), made by the first swap-out; absent until then, so a machine that
   * never swaps is byte-identical to one from before swap existed.
   */
  swap?: SwapDevice;
  /**
   * The files (files.ts), made by the first op that needs one; absent until then, so a machine
   * that never touches a file is byte-identical to one from before files existed.
   */
  files?: FileState[];
}

/**
 * The shared zero page: one frame beyond RAM (PFN `geometry.nrFrames`) in state 'zero'. It is
 * never allocated, freed or counted among the free frames, has no folio fields (the kernel's
 * `vm_normal_page()` returns NULL for its special PTE: no mapcount, no rmap, no reference per
 * mapping) and always holds 0. A PTE mapping it is present and read-only.
 *
 * Why a frame and not a PTE kind of its own: a zero-page PTE is a present PTE in the kernel (the
 * MMU walks it, TLBs cache it, fork copies it, mremap moves it, zap clears it), so every path that
 * handles present PTEs meets it as the kernel's do; and a path that forgets to ask `is_zero_pfn()`
 * fails loudly (`folioAt()` throws on a frame without a folio) instead of silently skipping it.
 */
export interface ZeroPage {
  readonly pfn: Pfn;
  /**
   * References FOLL_GET took on the zero page and has not put back (`try_grab_folio()` takes a
   * plain reference on it; since 6.5 a FOLL_PIN takes none). The kernel's permanent reference is
   * not counted: the zero page is never freed, so only the balance of GUP's gets and puts matters.
   */
  gupRefs: number;
}

/**
 * 'hole': not RAM — a firmware hole or memory taken away by hot-remove (a `memHole` op,
 * models/machine/physMem.ts). Never allocated, never freed, never counted free; touching its
 * struct page is the `touched_non_ram` hazard (frameAt()).
 */
export type FrameState = 'free' | 'data' | 'table' | 'zero' | 'hole';

/** One physical page frame and its struct page. */
export interface Frame {
  state: FrameState;
  /** Allocation generation: incremented at every allocation, so a stale user is detectable. */
  gen: number;
  /** What the page holds (data frames): the last value stored. A new anonymous page holds 0. */
  content: number;
  /** page->_mapcount + 1: PTE mappings of this page (not counting a PMD mapping of its folio). */
  mapcount: number;
  /** PageAnonExclusive. For a PMD-mapped folio only the head's flag is meaningful. */
  anonExclusive: boolean;
  /** PFN of the head of the folio this page belongs to (itself for a head or a table). */
  head: Pfn;
  /** Folio fields, on head frames of data folios only. */
  folio: Folio | null;
  /** PTE entries, on table frames only. */
  ptes: Pte[] | null;
  /** TLB entries (over all CPUs) that translate to this frame: makes the free-time check O(1). */
  tlbRefs: number;
}

/** The struct folio fields kept on the head page. */
export interface Folio {
  /** Logical identity: the op that allocated it and the order within that op ("s3.1"). */
  readonly id: string;
  readonly order: number;
  /** folio->_refcount. Small folios count a pin as GUP_PIN_COUNTING_BIAS (1024) references. */
  refcount: number;
  /** _large_mapcount + 1: every PTE and every PMD mapping counts one (large folios only). */
  largeMapcount: number;
  /** _entire_mapcount + 1: PMD mappings (large folios only). */
  entireMapcount: number;
  /** _pincount: exact FOLL_PIN count (large folios only). */
  pincount: number;
  /** On the deferred split queue (PG_partially_mapped set). */
  deferredSplit: boolean;
  /** MIGRC: a migrated-away source kept alive until a deferred TLB flush is done. */
  migrcPending: boolean;
  /**
   * 6.15's CONFIG_MM_ID (large folios only): `folio->_mm_id[0..1]`, the mms owning the two
   * slots, null for MM_ID_DUMMY (a free slot). The model's MmId is the mm's id (mm ids are never
   * reused here, where the kernel's IDA may reuse one after `mmdrop()`). Kept only by kernels
   * with 6.15's accounting (reference-6.15 and batched-6.15); a 6.12 kernel leaves both null.
   */
  readonly mmId: [MmId | null, MmId | null];
  /** `folio->_mm_id_mapcount[0..1]` + 1: the mappings counted for each slot's mm (0 for a free slot). */
  readonly mmIdMapcount: [number, number];
  /** FOLIO_MM_IDS_SHARED_BIT (`folio_test_large_maybe_mapped_shared()`), 6.15 kernels only. */
  maybeMappedShared: boolean;
  /**
   * PG_migrc as seed 002 posts it (only the migrc-as-posted kernel sets it): on both source and
   * destination of a MIGRC migration; a write fault on a flagged folio clears it and flushes.
   * Cleared on allocation (`migrc_init_page()` in `post_alloc_hook()`), so a new folio starts clear.
   */
  pgMigrc: boolean;
  /**
   * PG_swapcache with `folio->swap`: the first of the folio's swap slots while it is in the swap
   * cache (`add_to_swap()` until `delete_from_swap_cache()`), else null. The swap cache holds one
   * reference per page of the folio.
   */
  swap: number | null;
  /**
   * PG_dirty: the folio's data is newer than its swap copy. Set when `add_to_swap()` puts it in
   * the swap cache, when an unmap finds a dirty PTE (`folio_mark_dirty()`) and when it leaves the
   * swap cache (`folio_free_swap()`); cleared by `pageout()` (`folio_clear_dirty_for_io()`) and
   * by MADV_FREE. An anonymous folio's dirtiness lives mostly in its PTEs' dirty bits.
   */
  dirty: boolean;
  /**
   * PG_swapbacked: set on every anonymous folio; MADV_FREE clears it (`folio_mark_lazyfree()`),
   * and reclaim may then discard the folio without writing it out, if it is still clean.
   */
  swapbacked: boolean;
  /**
   * `folio->mapping` and `folio->index` of a page-cache folio (files.ts): the file and the page
   * index of its head. Absent on an anonymous folio (`folio_test_anon()`). The page cache holds
   * one reference per page of the folio.
   */
  mapping?: { readonly file: number; readonly index: number };
}

export interface Mm {
  readonly id: MmId;
  alive: boolean;
  /** One entry per PMD slot. */
  readonly pmds: PmdEntry[];
  /** VMA write permission per virtual page (mprotect); one private anonymous VMA otherwise. */
  readonly vmaWritable: boolean[];
  /**
   * Per virtual page, the file VMA it belongs to (files.ts), null for the private anonymous VMA;
   * absent until the mm's first file mapping.
   */
  vmaFile?: Array<VmaFile | null>;
  /** MMF_HAS_PINNED: set by the first FOLL_PIN on this mm, never cleared. */
  hasPinned: boolean;
  /** mm_cpumask: CPUs that have run this mm (and may hold TLB entries for it). Never trimmed. */
  readonly cpumask: boolean[];
  /**
   * `mm->tlb_flush_batched` (include/linux/mm_types.h): how many batched unmaps of this mm left a
   * flush owed (`pending`, bumped by `set_tlb_ubc_flush_pending()`) and up to which of them
   * `flush_tlb_batched_pending()` has flushed (`flushed`). The kernel packs both into one atomic_t.
   */
  readonly tlbFlushBatched: { pending: number; flushed: number };
  /**
   * `mm->tlb_flush_pending` (include/linux/mm_types.h): gathers of this mm between
   * `tlb_gather_mmu()` (`inc_tlb_flush_pending()`) and the end of `tlb_finish_mmu()`
   * (`dec_tlb_flush_pending()`). Above 1, `mm_tlb_flush_nested()` holds: another CPU is in the
   * middle of changing PTEs of this mm with its flush still owed.
   */
  tlbFlushPending: number;
  /**
   * Holders of `mm->mmap_lock` for read that are preempted kernel tasks (a MADV_DONTNEED in its
   * zap window). An op that takes the lock for write (fork, mremap, mprotect, exit) waits for them:
   * the runner first runs those tasks to completion. Ops that run to completion at once hold and
   * release it inside the op, so they never show here.
   */
  mmapReaders: number;
  /**
   * `mm->write_protect_seq` (include/linux/mm_types.h): odd while `copy_page_range()` of a fork
   * write-protects this mm's anonymous pages (`raw_write_seqcount_begin/end()`, mm/memory.c,
   * 6.12). GUP-fast with FOLL_PIN refuses to start while it is odd and drops its pins when it
   * changed under the walk (`gup_fast()`, mm/gup.c). Only a preempted fork leaves it odd between ops.
   */
  writeProtectSeq: number;
}

export interface TlbEntry {
  readonly mm: MmId;
  readonly vpn: Vpn;
  readonly pfn: Pfn;
  readonly writable: boolean;
  /**
   * The PTE's dirty bit as the walk that filled the entry saw it (x86 caches D with the
   * translation). A store through an entry whose cached D is clear does not complete from the
   * TLB: the CPU re-walks the page tables to set D in the PTE, and faults if the PTE is no longer
   * present and writable (so a clean writable entry is never a way to write to a stale frame).
   */
  readonly dirty: boolean;
  /** The frame's allocation generation when the entry was filled. */
  readonly gen: number;
  /**
   * Never used by an access on this CPU: recorded when the PTE it translates was changed while
   * the CPU had the mm loaded, because x86 may have filled it speculatively (any present PTE
   * reachable from a loaded CR3). It behaves exactly like a used entry; the flag is for reports.
   */
  readonly speculative: boolean;
}

/**
 * A paging-structure-cache entry (Intel SDM vol. 3 §4.10.3, the PDE cache): the CPU remembers
 * that PMD slot `pmdIndex` of `mm` pointed to PTE table `table`, and may walk through it without
 * reading the PMD again. Recorded for every CPU that has the mm loaded when the PMD stops pointing
 * there (it may have cached it speculatively); dropped by any flush executed on the CPU for that
 * mm (INVLPG and CR3 writes invalidate the PCID's paging-structure caches), so only a CPU that a
 * flush skipped — a lazy one, for a flush without freed_tables — keeps it.
 */
export interface PwcEntry {
  readonly mm: MmId;
  readonly pmdIndex: number;
  readonly table: Pfn;
  /** The table frame's generation when the pointer was cached. */
  readonly gen: number;
}

export interface Cpu {
  readonly id: CpuId;
  /** Keyed by tlbKey(mm, vpn). Entries stay until a flush removes them: staleness is real state. */
  readonly tlb: Map<number, TlbEntry>;
  /** Paging-structure caches, keyed by pwcKey(mm, pmdIndex). */
  readonly pwc: Map<number, PwcEntry>;
  /**
   * cpu_tlbstate.loaded_mm (arch/x86/mm/tlb.c): the mm whose page tables CR3 points to, null for
   * init_mm. A CPU switches (switch_mm_irqs_off()) only when it accesses or walks an mm.
   */
  loadedMm: MmId | null;
  /**
   * cpu_tlbstate_shared.is_lazy: the CPU runs a kernel thread (the model: time passed, `tick`)
   * with the last user mm still in CR3 (enter_lazy_tlb()). It makes no user access, but the
   * hardware may still walk that mm's tables speculatively.
   */
  lazy: boolean;
  /**
   * A flush of `loadedMm` skipped this lazy CPU (should_flush_tlb()): its tlb_gen is behind, so
   * switch_mm_irqs_off() back to the mm flushes everything (paging-structure caches included).
   */
  lazyMissedFlush: boolean;
  /** local_irq_save() is in effect (a GUP-fast walk). */
  irqsDisabled: boolean;
  /** Inside rcu_read_lock() (a pte_offset_map() reader). */
  inRcuReader: boolean;
  /** Incremented whenever the CPU leaves an IRQs-off or RCU read-side section. */
  quiescentSeq: number;
  /** The one lockless walker in flight on this CPU. */
  walker: Walker | null;
  /**
   * A GUP-fast walk that an IPI forced to finish its reads (the IPI waits for the IRQs-off
   * section): the walk as it was, and whether its recheck passed. It holds no table any more. If
   * the recheck passed it keeps its reference until the next walkEnd on this CPU turns it into a
   * handle, so the handle appears at the same op as when no IPI came; if it failed, the reference
   * was put back when the walk finished (`grabbed` is null) and walkEnd takes the page the slow
   * way. Until walkEnd the CPU starts no other walk.
   */
  finishedWalk: FinishedWalk | null;
  /**
   * The kernel task preempted on this CPU (issue 11): a path stopped at a preemption point (a
   * MADV_DONTNEED, say, still holding its mm's mmap_lock for read — `locks` — and its gather). It was preempted, so the CPU
   * runs other ops meanwhile; the field names where the task resumes. Null almost always.
   */
  task: KernelTaskView | null;
  /**
   * The locks the task on this CPU holds (locks.ts), in the order it took them: empty unless a
   * task is in flight here. The runner derives who must wait for the task from it.
   */
  readonly locks: LockRef[];
}

export interface FinishedWalk {
  readonly walk: Extract<Walker, { kind: 'gupFast' }>;
  readonly recheckPassed: boolean;
}

/**
 * A lockless page-table walker in flight: it holds a pointer to a PTE-table frame (or has read a
 * PMD leaf) without any lock. GUP-fast runs with IRQs off; a pte_offset_map() reader only under
 * rcu_read_lock().
 */
export type Walker =
  | {
      readonly kind: 'gupFast';
      readonly mm: MmId;
      readonly vpn: Vpn;
      readonly pin: boolean;
      readonly write: boolean;
      /** The PMD value read by the walk (pmdp_get_lockless). */
      readonly pmd: PmdEntry;
      /** The PTE value read (ptep_get_lockless); for a PMD leaf, null. */
      readonly pte: Pte | null;
      /** Table frame held, and its generation at the time of the walk. */
      readonly table: Pfn | null;
      readonly tableGen: number;
      /**
       * Where the walk stopped (walkBegin's `stop`): 'recheck' — it read the entries and grabbed
       * at once, the recheck is owed; 'grab' — it only read them, `try_grab_folio_fast()` and the
       * recheck are both owed (docs/concurrency.md, "The GUP-fast windows").
       */
      readonly stop: GupFastStop;
      /**
       * The page whose folio the walk took a reference (or pin) on with `try_grab_folio_fast()`;
       * null when the entry did not allow it, the grab failed, or (stop 'grab') it has not
       * grabbed yet.
       */
      readonly grabbed: GupPage | null;
      /**
       * FOLL_PIN: `mm->write_protect_seq` as `gup_fast()` read it before the walk
       * (`raw_read_seqcount()`), rechecked with `read_seqcount_retry()` after it; null without
       * FOLL_PIN (no check).
       */
      readonly seq: number | null;
    }
  | {
      readonly kind: 'pteOffsetMap';
      readonly mm: MmId;
      readonly vpn: Vpn;
      readonly table: Pfn;
      readonly tableGen: number;
    };

export type WalkerKind = Walker['kind'];

/**
 * Where a GUP-fast walk stays in flight between walkBegin and walkEnd (`gup_fast_pte_range()`,
 * mm/gup.c, 6.12): after its grab, before the recheck ('recheck'), or after its lockless read,
 * before `try_grab_folio_fast()` ('grab').
 */
export type GupFastStop = 'recheck' | 'grab';

/** A page of a GUP handle: the page pointer the caller holds. */
export interface GupPage {
  readonly pfn: Pfn;
  /** Generation of the frame when the reference was taken. */
  readonly gen: number;
}

export interface GupHandle {
  readonly id: HandleId;
  readonly mm: MmId;
  readonly vpn: Vpn;
  /** FOLL_PIN (pin_user_pages) rather than FOLL_GET (get_user_pages). */
  readonly pin: boolean;
  readonly write: boolean;
  readonly pages: GupPage[];
}

/** A deferred callback: runs once every CPU that was in a read-side section at queue time has left it. */
export interface RcuCallback {
  /** CPU id -> quiescentSeq at queue time, for the CPUs that were inside a section then. */
  readonly waitFor: ReadonlyArray<readonly [CpuId, number]>;
  readonly action: RcuAction;
}

/** What a deferred callback does: free page-table frames (tlb_remove_table_rcu / __tlb_remove_table_one_rcu). */
export type RcuAction = { readonly kind: 'freeTables'; readonly tables: readonly Pfn[] };

export interface RcuState {
  callbacks: RcuCallback[];
}

export interface MigrcState {
  /** Source folios (head PFNs) kept alive until a TLB flush of `cpus` is done. */
  pending: Pfn[];
  /** CPUs that may still hold read-only TLB entries to pending folios. */
  readonly cpus: boolean[];
}

export interface AllocClock {
  /** Index of the op being applied (-1 before the first). */
  step: number;
  /** Folios allocated so far by this op. */
  folios: number;
}

/**
 * Cost counters: what the kernel spent. They never affect behaviour. Atomic updates count calls,
 * whatever `refs` is, as the seeds' measurements do.
 */
export interface Stats {
  atomicRefUpdates: number;
  rmapCalls: number;
  gatherSlots: number;
  tlbFlushCalls: number;
  /** Remote CPUs that received a TLB-flush IPI (nr_tlb_remote_flush_received). */
  tlbFlushIpis: number;
  /** tlb_remove_table_sync_one() IPIs delivered. */
  tableSyncIpis: number;
  rcuCallbacksQueued: number;
  pagesCopied: number;
  tablesFreed: number;
}

export function tlbKey(mm: MmId, v: Vpn): number {
  return mm * 0x100000 + v;
}

export function pwcKey(mm: MmId, pmdIndex: number): number {
  return mm * 0x100000 + pmdIndex;
}
