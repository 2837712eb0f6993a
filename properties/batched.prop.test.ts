import { batchedProperty } from './__helpers__/batchedProperty';

// The product's central property for the batched kernel (see the helper for what it asserts).
batchedProperty('batched');
