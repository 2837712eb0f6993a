import { batchedProperty } from './__helpers__/batchedProperty';

// The product's central property for mainline batching without MIGRC (see the helper).
batchedProperty('batched-no-migrc');
