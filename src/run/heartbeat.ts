/**
 * A heartbeat a watchdog in another thread can read: slot 0 counts the ops started, slot 1 holds
 * the index of the op running now. The check's worker shares the array with the supervising
 * thread, which declares a hang when slot 0 stops moving (see src/check/supervise.ts). Without an
 * array (tests, in-process runs) a beat costs one null test.
 */
let beats: Int32Array | null = null;

export const HEARTBEAT_SLOTS = 2;

export function useHeartbeat(array: Int32Array | null): void {
  beats = array;
}

/** Op number `step` of the current sequence is starting. */
export function beat(step: number): void {
  if (beats === null) return;
  beats[0] = (beats[0]! + 1) | 0;
  beats[1] = step;
}
