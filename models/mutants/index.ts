import type { MutantSpec } from './mutant';
import { batchIgnoresPfnGap } from './batchIgnoresPfnGap';
import { batchPastFolioEnd } from './batchPastFolioEnd';
import { batchReadsPageAfterFolio } from './batchReadsPageAfterFolio';
import { cowReuseFirstSubpage } from './cowReuseFirstSubpage';
import { cowReuseFolioMapcount } from './cowReuseFolioMapcount';
import { forkBatchIgnoresPins } from './forkBatchIgnoresPins';
import { freeBeforeFlush } from './freeBeforeFlush';
import { freeChunkSplitsNrPages } from './freeChunkSplitsNrPages';
import { gatherNoRoomForNrPages } from './gatherNoRoomForNrPages';
import { gupFastNoRecheck } from './gupFastNoRecheck';
import { gupOneRefForN } from './gupOneRefForN';
import { gupSubpageOffsetShift } from './gupSubpageOffsetShift';
import { migrcDefersWritable } from './migrcDefersWritable';
import { migrcFreesSource } from './migrcFreesSource';
import { migrcNoGiveupOnWrite } from './migrcNoGiveupOnWrite';
import { migrcUndoKeepsReference } from './migrcUndoKeepsReference';
import { migrateUndoLosesExclusive } from './migrateUndoLosesExclusive';
import { movePmdNoFlush } from './movePmdNoFlush';
import { mprotectNoFlushOnWrprotect } from './mprotectNoFlushOnWrprotect';
import { mremapFlushesNewRange } from './mremapFlushesNewRange';
import { noFlushWhenGatherFull } from './noFlushWhenGatherFull';
import { semiRcuSingleTable } from './semiRcuSingleTable';
import { tableFreeNoFreedTables } from './tableFreeNoFreedTables';
import { flushSkipsLazyCpus } from './flushSkipsLazyCpus';
import { tableBatchNoRcu } from './tableBatchNoRcu';
import { zapDropsOneRefPerBatch } from './zapDropsOneRefPerBatch';
import { reclaimNoFlushDirty } from './reclaimNoFlushDirty';
import { reclaimFreesBeforeFlush } from './reclaimFreesBeforeFlush';
import { unmapLosesPteDirty } from './unmapLosesPteDirty';
import { forkKeepsSwapExclusive } from './forkKeepsSwapExclusive';
import { swapinIgnoresExclusiveBit } from './swapinIgnoresExclusiveBit';
import { swapBatchIgnoresSlotGap } from './swapBatchIgnoresSlotGap';
import { freeSwapWhileSwapped } from './freeSwapWhileSwapped';
import { madviseEstimatesSharers } from './madviseEstimatesSharers';
import { madvisePageoutSkipsLargeFolios } from './madvisePageoutSkipsLargeFolios';
import { madviseFreeNoFlush } from './madviseFreeNoFlush';
import { madviseFreeIgnoresOtherMappings } from './madviseFreeIgnoresOtherMappings';
import { lazyfreeDiscardsDirty } from './lazyfreeDiscardsDirty';
import { mkcleanNoFlush } from './mkcleanNoFlush';
import { writebackSkipsMkclean } from './writebackSkipsMkclean';
import { sharedWpSkipsMkwrite } from './sharedWpSkipsMkwrite';
import { readFaultMapsSharedWritable } from './readFaultMapsSharedWritable';
import { forkCopiesSharedFilePtes } from './forkCopiesSharedFilePtes';
import { cowFaultMapsPageCache } from './cowFaultMapsPageCache';
import { privateWpReusesPageCache } from './privateWpReusesPageCache';
import { truncateSkipsCows } from './truncateSkipsCows';
import { mprotectUpgradesCleanShared } from './mprotectUpgradesCleanShared';
import { forkSkipsPrivateFileVma } from './forkSkipsPrivateFileVma';
import { nextBatchIgnoresDelayedRmap } from './nextBatchIgnoresDelayedRmap';
import { collapseNoFlush } from './collapseNoFlush';
import { retractFreesTableNow } from './retractFreesTableNow';
import { retractIgnoresAnonVma } from './retractIgnoresAnonVma';
import { collapseFileUnmapUnbatched } from './collapseFileUnmapUnbatched';
import { collapseIgnoresRefcount } from './collapseIgnoresRefcount';
import { collapseKeepsOldRmap } from './collapseKeepsOldRmap';
import { collapseTreatsSwapAsNone } from './collapseTreatsSwapAsNone';

/** Every registered mutant, one file each, grouped by seed discussion. */
export const MUTANTS: readonly MutantSpec[] = [
  // seed 000: zap batching and the mmu_gather
  freeBeforeFlush,
  noFlushWhenGatherFull,
  batchPastFolioEnd,
  batchIgnoresPfnGap,
  batchReadsPageAfterFolio,
  zapDropsOneRefPerBatch,
  freeChunkSplitsNrPages,
  gatherNoRoomForNrPages,
  // seed 001: mapcounts, COW reuse, fork and pins
  forkBatchIgnoresPins,
  cowReuseFirstSubpage,
  cowReuseFolioMapcount,
  // seed 002: MIGRC
  migrcNoGiveupOnWrite,
  migrcDefersWritable,
  migrcFreesSource,
  migrcUndoKeepsReference,
  // migration as 6.12 (review row 5): the undo path
  migrateUndoLosesExclusive,
  // seed 003: page-table freeing
  semiRcuSingleTable,
  tableBatchNoRcu,
  // x86 TLB: paging-structure caches and lazy-TLB CPUs (arch/x86/mm/tlb.c)
  tableFreeNoFreedTables,
  flushSkipsLazyCpus,
  // seed 004: GUP on compound pages
  gupSubpageOffsetShift,
  gupOneRefForN,
  gupFastNoRecheck,
  // mprotect and mremap as 6.12 (issue 9 item 5): their flush rules
  mprotectNoFlushOnWrprotect,
  mremapFlushesNewRange,
  movePmdNoFlush,
  // reclaim, swap and madvise on large folios (issue 13; seed 001's MADV_PAGEOUT thread)
  reclaimNoFlushDirty,
  reclaimFreesBeforeFlush,
  unmapLosesPteDirty,
  forkKeepsSwapExclusive,
  swapinIgnoresExclusiveBit,
  swapBatchIgnoresSlotGap,
  freeSwapWhileSwapped,
  madviseEstimatesSharers,
  madvisePageoutSkipsLargeFolios,
  madviseFreeNoFlush,
  madviseFreeIgnoresOtherMappings,
  lazyfreeDiscardsDirty,
  // shared file mappings, dirty tracking and writeback (issue 14; rule R2 (docs/kernel-semantics.md §10))
  mkcleanNoFlush,
  writebackSkipsMkclean,
  sharedWpSkipsMkwrite,
  readFaultMapsSharedWritable,
  forkCopiesSharedFilePtes,
  cowFaultMapsPageCache,
  privateWpReusesPageCache,
  truncateSkipsCows,
  mprotectUpgradesCleanShared,
  forkSkipsPrivateFileVma,
  nextBatchIgnoresDelayedRmap,
  // khugepaged collapse (issue 14; seed 003's page-table history)
  collapseNoFlush,
  retractFreesTableNow,
  retractIgnoresAnonVma,
  collapseFileUnmapUnbatched,
  collapseIgnoresRefcount,
  collapseKeepsOldRmap,
  collapseTreatsSwapAsNone,
];
