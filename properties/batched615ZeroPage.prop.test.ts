import { DERIVED_RUNS, batchedProperty } from './__helpers__/batchedProperty';

// As batchedZeroPage.prop.test.ts, for batched-6.15 against reference-6.15.
batchedProperty('batched-6.15', DERIVED_RUNS, { zeroPage: true });
