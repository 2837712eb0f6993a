import type { MutantSpec } from '../mutant';
import { forkDupChecksFirstPage } from './forkDupChecksFirstPage';
import { gupFastUnshareFirstPage } from './gupFastUnshareFirstPage';
import { migrcReqEndForgetsCpus } from './migrcReqEndForgetsCpus';

/**
 * Mutants whose bug needs a rare combination of ops and state (issue 12, docs/reach.md): each
 * header says what it needs. The kill matrix shows, per generation mode, that uniform sequences
 * almost never build it.
 */
export const RARE_MUTANTS: readonly MutantSpec[] = [migrcReqEndForgetsCpus, forkDupChecksFirstPage, gupFastUnshareFirstPage];
