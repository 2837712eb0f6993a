import type { MutantSpec } from './mutant';
import { cowReuseFirstSubpage } from './cowReuseFirstSubpage';
import { gupFastNoRecheck } from './gupFastNoRecheck';
import { semiRcuSingleTable } from './semiRcuSingleTable';

/** Every registered mutant, one file each. */
export const MUTANTS: readonly MutantSpec[] = [cowReuseFirstSubpage, gupFastNoRecheck, semiRcuSingleTable];
