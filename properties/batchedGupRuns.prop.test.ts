import { DERIVED_RUNS, batchedProperty } from './__helpers__/batchedProperty';

// The product's central property for the GUP-runs proposal beyond 6.12 (see the helper).
batchedProperty('batched-gup-runs', DERIVED_RUNS);
