import { DERIVED_RUNS, batchedProperty } from './__helpers__/batchedProperty';

// The central property on machines with the shared zero page (review row 24, the option
// `mmcheck conform` turns on): the batched kernel against the reference, every oracle on, and the
// zero page's paths (read fault, COW and unshare from it, fork, zap, GUP) reached.
batchedProperty('batched', DERIVED_RUNS, { zeroPage: true });
