import { z } from 'zod';
import { ALLOC_POLICIES } from '../../models/machine/physMem';

/**
 * The op vocabulary as data: the one definition the `Op` type, the file validation and
 * schema/op.schema.json are derived from. Targets are small integers resolved against the state
 * when the op runs, so any safe integer is meaningful; fields are exact (an unknown field is an
 * error, not ignored, so a typo never silently changes an op).
 */
const int = z.int();
const bool = z.boolean();

const op = <K extends string, S extends z.ZodRawShape>(kind: K, description: string, shape: S) =>
  z.strictObject({ kind: z.literal(kind), ...shape }).meta({ title: kind, description });

export const opSchema = z
  .discriminatedUnion('kind', [
    op('map', 'Populate a new anonymous folio: PMD-mapped, or PTE-mapped for pages [first, first+count).', { mm: int, vpn: int, order: int, pmd: bool, first: int, count: int }),
    op('populate', 'MAP_POPULATE of [vpn, vpn+nr): every unpopulated aligned chunk gets a new folio of `order`, fully mapped.', { mm: int, vpn: int, nr: int, order: int }),
    op('access', 'A user load (write false) or store on a CPU.', { cpu: int, mm: int, vpn: int, write: bool }),
    op('fork', 'fork() of an mm.', { mm: int }),
    op('zap', 'MADV_DONTNEED of [vpn, vpn+nr).', { mm: int, vpn: int, nr: int }),
    op('exit', 'An mm exits.', { mm: int }),
    op('mprotect', 'mprotect() of [vpn, vpn+nr) to read-write or read-only.', { mm: int, vpn: int, nr: int, writable: bool }),
    op('mremap', 'mremap() of [from, from+nr) to `to`.', { mm: int, from: int, to: int, nr: int }),
    op('migrate', 'Migrate up to `count` folios mapped from vpn upwards.', { mm: int, vpn: int, count: int }),
    op('reclaim', 'Reclaim (kswapd or direct reclaim: shrink_folio_list()) of up to `count` folios mapped from vpn upwards: each is swapped out and freed, or kept (pinned, referenced, or it could not be unmapped).', { mm: int, vpn: int, count: int }),
    op('madvise', "madvise() of [vpn, vpn+nr) with MADV_COLD ('cold': make the exclusive folios old), MADV_PAGEOUT ('pageout': reclaim them now) or MADV_FREE ('free': their data may be dropped until the next store; swapped-out pages are dropped at once); a large folio not mapped whole in the range is split unless it is likely shared.", {
      mm: int,
      vpn: int,
      nr: int,
      advice: z.enum(['cold', 'pageout', 'free']),
    }),
    op('mmapFile', 'mmap(MAP_FIXED) of file `file`, pages [pgoff, pgoff+nr), read-write at [vpn, vpn+nr): MAP_SHARED (shared true: stores reach the file) or MAP_PRIVATE (a store copies the page-cache page into an anonymous one); what the range mapped is unmapped first; nothing is faulted in.', {
      mm: int,
      vpn: int,
      nr: int,
      file: int,
      pgoff: int,
      shared: bool,
    }),
    op('truncate', 'ftruncate() of file `file` to `from` pages and back to its full size: every mapping of pages [from, end) is unmapped, private copies too (unmap_mapping_range(), even_cows), the page cache drops them and the disk holds zeros there.', { file: int, from: int }),
    op('writeback', 'fsync() (or msync(MS_SYNC) of every mapping) of file `file`: every dirty page-cache folio is write-protected in every mapping (folio_mkclean()) and written to the disk.', { file: int }),
    op('fileRead', 'pread() of page `index` of file `file` (from the page cache, read in from the disk on a miss).', { file: int, index: int }),
    op('fileWrite', 'pwrite() of page `index` of file `file`: the page-cache page gets the value and its folio is dirtied.', { file: int, index: int }),
    op('collapse', 'khugepaged collapses PMD slot `pmd` of an mm: if its PTE table maps anonymous pages worth a THP (at least one writable and one young entry, no swap entry, no page with a reference beyond its mappings), the pages are copied into a new PMD-mapped THP and the table goes (collapse_huge_page()).', { mm: int, pmd: int }),
    op('freeTable', 'Reclaim the PTE table of PMD slot `pmd` if it is empty.', { mm: int, pmd: int }),
    op('gup', 'get_user_pages (pin false) or pin_user_pages of [vpn, vpn+nr), GUP-fast or not.', { cpu: int, mm: int, vpn: int, nr: int, pin: bool, write: bool, fast: bool }),
    op('unpin', 'Release a GUP handle.', { handle: int }),
    op('gupRead', 'A device reads page `index` of a handle.', { handle: int, index: int }),
    op('gupWrite', 'A device writes page `index` of a handle (a write pin only).', { handle: int, index: int }),
    op(
      'walkBegin',
      "A lockless page-table walker (GUP-fast or a pte_offset_map() reader) starts on a CPU. GUP-fast reads the PMD and PTE and stays in flight until walkEnd: with `stop` 'recheck' (or absent) it grabs the page at once and walkEnd rechecks; with 'grab' it only reads, and walkEnd grabs (try_grab_folio_fast()) and rechecks (docs/concurrency.md).",
      {
        cpu: int,
        mm: int,
        vpn: int,
        walker: z.enum(['gupFast', 'pteOffsetMap']),
        pin: bool,
        write: bool,
        stop: z.enum(['recheck', 'grab']).optional(),
      },
    ),
    op('walkEnd', 'The walker in flight on a CPU finishes.', { cpu: int }),
    op('tick', 'Time passes: RCU callbacks whose grace period has ended run.', {}),
    op('nowaitFail', "The next `nr` GFP_NOWAIT allocations fail: the mmu_gather's batch pages (tlb_next_batch()) and tlb_remove_table()'s table batch page. 0 lets them succeed again.", {
      nr: int,
    }),
    op(
      'memHole',
      "Physical memory: the FREE frames of [pfn, pfn+nr) stop being RAM, as memory hot-remove (offline_pages()) or a firmware hole leaves them; frames in use are skipped, and so is any frame whose hole would leave fewer than three quarters of the max-order blocks hole-free (what the model's runs need, physMem.ts). Not a kernel call: the same on every kernel. Touching a hole's struct page is the touched_non_ram hazard.",
      { pfn: int, nr: int },
    ),
    op(
      'allocPolicy',
      "Physical memory: where the frame allocator looks from now on: 'lowest-first' (first fit, the default), 'highest-first', or 'from' the first free run at or above `pfn` (wrapping). Not a kernel call: the same on every kernel.",
      { policy: z.enum(ALLOC_POLICIES), pfn: int.optional() },
    ),
    op('drain', 'End of a sequence: every preempted kernel task runs to completion (in CPU order), every walker finishes and deferred work runs until none is left (a run ends with one).', {}),
    op('preempt', 'The next op runs as a kernel task on `cpu` and is preempted once it has passed `at` preemption points (at least 1; at or beyond its last point it runs to completion). Only an op whose kernel path owns preemption points (zap) can be a task; for any other op, or when `cpu` already has a task, a no-op (docs/concurrency.md).', {
      cpu: int,
      at: int,
    }),
    op('resume', 'The task preempted on `cpu` passes `points` more preemption points (at least 1), or runs to completion; a no-op when `cpu` has no task.', { cpu: int, points: int }),
  ])
  .meta({ id: 'op', title: 'mmcheck op', description: 'One operation of an mmcheck op list.' });

/** Every op kind, in the order of the definition above. */
export const opKinds = opSchema.options.map((o) => o.shape.kind.value);
