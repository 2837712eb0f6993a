import { DERIVED_RUNS, batchedProperty } from './__helpers__/batchedProperty';

// The product's central property for the batched kernel on x86 without MMU_GATHER_RCU_TABLE_FREE (see the helper).
batchedProperty('batched-no-rcu-table-free', DERIVED_RUNS);
