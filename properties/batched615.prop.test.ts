import { DERIVED_RUNS, batchedProperty } from './__helpers__/batchedProperty';

// The product's central property for the batched kernel with 6.15's large-folio COW reuse, against
// reference-6.15 (see the helper and docs/fidelity/reuse.md).
batchedProperty('batched-6.15', DERIVED_RUNS);
