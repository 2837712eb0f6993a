import type { HandleId, MmId } from './machine/ids';

/**
 * What an operation returned to its caller: compared between kernels by the differential
 * oracle, and read by the user-visible memory model.
 */
export type OpResult =
  | { readonly kind: 'done' }
  /** The op did not apply (documented per op, e.g. mapping over a populated range). */
  | { readonly kind: 'noop'; readonly reason: string }
  /** A user load or store completed; `value` is what was read or stored. */
  | { readonly kind: 'value'; readonly value: number }
  /** A store to a page the VMA does not allow writing (SIGSEGV). */
  | { readonly kind: 'segv' }
  | { readonly kind: 'forked'; readonly child: MmId }
  /** GUP returned a handle for the first `pages` pages of the request. */
  | { readonly kind: 'handle'; readonly handle: HandleId; readonly pages: number }
  /** GUP got no page at all. */
  | { readonly kind: 'gupFailed' }
  | { readonly kind: 'migrated'; readonly folios: number }
  /** Reclaim (a `reclaim` op, or MADV_PAGEOUT) freed this many folios. */
  | { readonly kind: 'reclaimed'; readonly folios: number };

export const DONE: OpResult = Object.freeze({ kind: 'done' });
export const noop = (reason: string): OpResult => ({ kind: 'noop', reason });
