import type { MutantSpec } from '../mutant';
import { zapIgnoresNestedFlush } from './zapIgnoresNestedFlush';
import { zapEndsFlushPendingEarly } from './zapEndsFlushPendingEarly';
import { faultIgnoresMigrationEntry } from './faultIgnoresMigrationEntry';
import { migrateCopiesBeforeFlush } from './migrateCopiesBeforeFlush';
import { faultSkipsPteSame } from './faultSkipsPteSame';
import { forkIgnoresWriteProtectSeq } from './forkIgnoresWriteProtectSeq';
import { gupFastPinsDuringFork } from './gupFastPinsDuringFork';
import { forkSkipsWriteProtectSeq } from './forkSkipsWriteProtectSeq';
import { cowSkipsPteSame } from './cowSkipsPteSame';
import { gupSkipsRetryLookup } from './gupSkipsRetryLookup';
import { gupFastGrabsWithoutTry } from './gupFastGrabsWithoutTry';
import { noFlushTlbBatchedPending } from './noFlushTlbBatchedPending';
import { zapFileRmapBeforeFlush } from './zapFileRmapBeforeFlush';
import { collapseGupFastV60 } from './collapseGupFastV60';
import { collapseNoRestore } from './collapseNoRestore';

/**
 * Mutants of races inside a kernel operation (issue 11): each is equivalent to its correct
 * kernel without schedule ops, so the kill matrix runs them with interleaving on
 * (`mmcheck check --interleave`), and properties/raceMutants.test.ts shows both sides. Kept apart
 * from MUTANTS, whose every member must die without interleaving.
 */
export const RACE_MUTANTS: readonly MutantSpec[] = [
  zapIgnoresNestedFlush,
  zapEndsFlushPendingEarly,
  faultIgnoresMigrationEntry,
  migrateCopiesBeforeFlush,
  faultSkipsPteSame,
  forkIgnoresWriteProtectSeq,
  gupFastPinsDuringFork,
  forkSkipsWriteProtectSeq,
  cowSkipsPteSame,
  gupSkipsRetryLookup,
  gupFastGrabsWithoutTry,
  noFlushTlbBatchedPending,
  zapFileRmapBeforeFlush,
  collapseGupFastV60,
  collapseNoRestore,
];
