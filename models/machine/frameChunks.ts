import type { FrameState, Machine } from './state';

/** Frames per chunk of Machine.usedPerChunk. */
export const FRAME_CHUNK = 64;

/**
 * Every change of a frame's state goes through here, so the per-chunk count of frames in use
 * stays exact: the ledger audit trusts it to skip chunks where every frame is free.
 */
export function setFrameState(m: Machine, p: number, to: FrameState): void {
  const f = m.frames[p]!;
  const wasFree = f.state === 'free';
  const isFree = to === 'free';
  if (wasFree && !isFree) m.usedPerChunk[Math.floor(p / FRAME_CHUNK)]!++;
  if (!wasFree && isFree) m.usedPerChunk[Math.floor(p / FRAME_CHUNK)]!--;
  f.state = to;
}

/** The first chunk whose kept count differs from a recount of its frames, or -1 (the full audit asks). */
export function chunkCountMismatch(m: Machine): number {
  for (let c = 0; c * FRAME_CHUNK < m.frames.length; c++) if (countUsedInChunk(m, c) !== m.usedPerChunk[c]) return c;
  return -1;
}

/** Frames of chunk `c` not in state 'free', counted from the frames. */
export function countUsedInChunk(m: Machine, c: number): number {
  let used = 0;
  const end = Math.min(m.frames.length, (c + 1) * FRAME_CHUNK);
  for (let i = c * FRAME_CHUNK; i < end; i++) if (m.frames[i]!.state !== 'free') used++;
  return used;
}

/**
 * The first frame at or after `p` whose chunk has a frame in use (`m.frames.length` if none):
 * loops over the frames in use step with it past the chunks where every frame is free.
 */
export function nextChunkInUse(m: Machine, p: number): number {
  const n = m.frames.length;
  let c = Math.floor(p / FRAME_CHUNK);
  if (m.usedPerChunk[c] !== 0) return p;
  while (++c * FRAME_CHUNK < n) if (m.usedPerChunk[c] !== 0) return c * FRAME_CHUNK;
  return n;
}
