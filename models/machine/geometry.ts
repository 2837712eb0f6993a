/**
 * Machine geometry: a run parameter, recorded in every counterexample.
 *
 * `small` makes batches fill, frames get reused and PMD-sized folios cheap; `realistic` uses the
 * x86-64 numbers (512 PTEs per table, order-9 PMD folios, MAX_GATHER_BATCH = 510,
 * MAX_GATHER_BATCH_COUNT = 19, MMU_GATHER_BUNDLE = 8, MAX_NR_FOLIOS_PER_FREE = 512).
 */
export interface Geometry {
  readonly name: GeometryName;
  /** PTRS_PER_PTE: entries in one PTE table; also the number of pages of a PMD-sized folio. */
  readonly ptrsPerPte: number;
  /** PMD entries per mm; the whole user address space is pmdsPerMm * ptrsPerPte pages. */
  readonly pmdsPerMm: number;
  readonly nrCpus: number;
  readonly nrFrames: number;
  /** Largest folio order; equal to log2(ptrsPerPte) so the largest folio is PMD-mappable. */
  readonly maxFolioOrder: number;
  /** Most mms alive at once (fork is a no-op beyond it). */
  readonly maxMms: number;
  /** Most GUP handles held at once (gup is a no-op beyond it). */
  readonly maxHandles: number;
  /** MMU_GATHER_BUNDLE: on-stack slots of an mmu_gather. */
  readonly gatherBundle: number;
  /** MAX_GATHER_BATCH: slots in one batch page. */
  readonly maxGatherBatch: number;
  /** MAX_GATHER_BATCH_COUNT: most batch pages an mmu_gather may allocate. */
  readonly maxGatherBatchCount: number;
  /**
   * MAX_NR_FOLIOS_PER_FREE (mm/mmu_gather.c): `__tlb_batch_free_encoded_pages()` hands a batch to
   * `free_pages_and_swap_cache()` in chunks of at most this many slots (this many pages with
   * page poisoning or init_on_free), with a `cond_resched()` between chunks. `realistic` has the
   * kernel's 512: above MAX_GATHER_BATCH (510), so — as on x86-64 with 4K pages — the slot cap
   * never cuts a batch and only page counting chunks. `small` has 1, as if batch pages were much
   * larger than the cap (arm64 with 64K pages: 8190 slots per batch page): every batch of two or
   * more entries is freed in several chunks, and every "page + nr_pages" entry straddles the cap,
   * so the rule that keeps its nr_pages slot in the same chunk runs on every large-folio zap.
   */
  readonly maxNrFoliosPerFree: number;
  /** MAX_TABLE_BATCH: page-table pages one table batch holds before it goes to RCU. */
  readonly maxTableBatch: number;
  /**
   * MIGRC: an allocation that finds fewer free frames than this releases the folios kept alive
   * for a deferred flush (the "high memory pressure" release point of the seed patch).
   */
  readonly migrcFreeWatermark: number;
}

export const GEOMETRY_NAMES = ['small', 'realistic'] as const;
export type GeometryName = (typeof GEOMETRY_NAMES)[number];

const GEOMETRIES: Readonly<Record<GeometryName, Geometry>> = {
  small: {
    name: 'small',
    ptrsPerPte: 16,
    pmdsPerMm: 4,
    nrCpus: 3,
    nrFrames: 512,
    maxFolioOrder: 4,
    maxMms: 4,
    maxHandles: 6,
    gatherBundle: 2,
    maxGatherBatch: 3,
    maxGatherBatchCount: 6,
    maxNrFoliosPerFree: 1,
    maxTableBatch: 2,
    migrcFreeWatermark: 400,
  },
  realistic: {
    name: 'realistic',
    ptrsPerPte: 512,
    pmdsPerMm: 4,
    nrCpus: 4,
    nrFrames: 16384,
    maxFolioOrder: 9,
    maxMms: 4,
    maxHandles: 6,
    gatherBundle: 8,
    maxGatherBatch: 510,
    maxGatherBatchCount: 19,
    maxNrFoliosPerFree: 512,
    maxTableBatch: 509,
    migrcFreeWatermark: 12288,
  },
};

export class UnknownGeometryError extends Error {
  constructor(readonly given: string) {
    super(`unknown geometry '${given}'; valid geometries: ${GEOMETRY_NAMES.join(', ')}`);
  }
}

export function isGeometryName(s: string): s is GeometryName {
  return (GEOMETRY_NAMES as readonly string[]).includes(s);
}

/** The named preset; throws UnknownGeometryError naming the valid choices. */
export function geometry(name: string): Geometry {
  if (!isGeometryName(name)) throw new UnknownGeometryError(name);
  return GEOMETRIES[name];
}

/** Pages in a folio of this order. */
export const folioNrPages = (order: number): number => 1 << order;
/** Virtual pages in one mm. */
export const mmNrPages = (g: Geometry): number => g.pmdsPerMm * g.ptrsPerPte;
