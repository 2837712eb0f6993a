import type { Tracepoint } from '../tracepoints';
import type { Machine } from './state';

/** A kernel tracepoint: count that `event` happened (for state-coverage measurement only). */
export function mark(m: Machine, event: Tracepoint): void {
  m.marks[event] = (m.marks[event] ?? 0) + 1;
}
