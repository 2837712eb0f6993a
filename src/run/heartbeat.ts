/**
 * A heartbeat a watchdog in another thread can read: slot 0 counts the ops started, slot 1 holds
 * the index of the op running now, slot 2 is 1 while an op runs and 0 between ops. The check's
 * worker shares the array with the supervising thread, which declares a hang when an op has been
 * running (slot 2) with no new op started (slot 0) for too long (see src/check/supervise.ts); time
 * spent between ops (generating, shrinking, saving, coverage) never counts. Without an array
 * (tests, in-process runs) a beat costs one null test.
 */
let beats: Int32Array | null = null;

export const HEARTBEAT_SLOTS = 3;

export function useHeartbeat(array: Int32Array | null): void {
  beats = array;
}

/** Op number `step` of the current sequence is starting. */
export function beat(step: number): void {
  if (beats === null) return;
  beats[0] = (beats[0]! + 1) | 0;
  beats[1] = step;
  beats[2] = 1;
}

/** The op that started last has ended (returned or thrown). */
export function beatEnd(): void {
  if (beats !== null) beats[2] = 0;
}
