import { newLockState } from './locks';
import type { Geometry } from './geometry';
import { mmNrPages } from './geometry';
import { cpuId, pfn } from './ids';
import type { Frame, Machine, Stats } from './state';
import { FRAME_CHUNK } from './frameChunks';

export function emptyStats(): Stats {
  return {
    atomicRefUpdates: 0,
    rmapCalls: 0,
    gatherSlots: 0,
    tlbFlushCalls: 0,
    tlbFlushIpis: 0,
    tableSyncIpis: 0,
    rcuCallbacksQueued: 0,
    pagesCopied: 0,
    tablesFreed: 0,
  };
}

/** How a machine differs from the default one. Every option is off by default. */
export interface MachineOptions {
  /**
   * The shared zero page (review row 24): a read fault on an untouched private anonymous page
   * maps it (`do_anonymous_page()`, 6.12) instead of a private zeroed page. Off by default so
   * every existing seed keeps its behaviour; `mmcheck conform` turns it on when the running kernel
   * maps the zero page (a VM kernel booted with `pvm_no_zero_page=1` does not).
   */
  readonly zeroPage?: boolean;
}

/**
 * The frames of a fresh machine: RAM all free, then the zero page if asked for. A plain loop
 * (not Array.from with a callback): a machine is made per sequence, and `realistic` has 16,384
 * frames.
 */
function newFrames(nrFrames: number, zeroPage: boolean): Frame[] {
  const n = nrFrames + (zeroPage ? 1 : 0);
  const frames: Frame[] = [];
  for (let i = 0; i < n; i++) {
    frames.push({ state: i < nrFrames ? 'free' : 'zero', gen: 0, content: 0, mapcount: 0, anonExclusive: false, head: pfn(i), folio: null, ptes: null, tlbRefs: 0 });
  }
  return frames;
}

/**
 * A fresh machine: all frames free, one empty mm (mm 0) alive, every CPU idle; with
 * `{ zeroPage: true }` one more frame, the shared zero page, after the last frame of RAM.
 */
export function createMachine(g: Geometry, options: MachineOptions = {}): Machine {
  const zero = options.zeroPage === true;
  const m: Machine = {
    geometry: g,
    frames: newFrames(g.nrFrames, zero),
    mms: [],
    cpus: Array.from({ length: g.nrCpus }, (_, i) => ({
      id: cpuId(i),
      tlb: new Map(),
      pwc: new Map(),
      loadedMm: null,
      lazy: false,
      lazyMissedFlush: false,
      irqsDisabled: false,
      inRcuReader: false,
      quiescentSeq: 0,
      walker: null,
      finishedWalk: null,
      task: null,
      locks: [],
    })),
    handles: [],
    nextHandleId: 0,
    rcu: { callbacks: [] },
    migrc: { pending: [], cpus: new Array<boolean>(g.nrCpus).fill(false) },
    clock: { step: -1, folios: 0 },
    allocHint: 0,
    freeFrames: g.nrFrames,
    // The zero page's frame (after RAM) is the one in use at the start.
    usedPerChunk: Array.from({ length: Math.ceil((g.nrFrames + (zero ? 1 : 0)) / FRAME_CHUNK) }, (_, c) => (zero && c === Math.floor(g.nrFrames / FRAME_CHUNK) ? 1 : 0)),
    nowaitFailures: 0,
    stats: emptyStats(),
    marks: {},
    locks: newLockState(),
    ...(zero ? { zeroPage: { pfn: pfn(g.nrFrames), gupRefs: 0 } } : {}),
  };
  addMm(m);
  return m;
}

/** A new empty mm (mm_alloc()); its id is the next index. */
export function addMm(m: Machine): Machine['mms'][number] {
  const g = m.geometry;
  const mm = {
    id: m.mms.length as Machine['mms'][number]['id'],
    alive: true,
    pmds: Array.from({ length: g.pmdsPerMm }, () => ({ kind: 'none' as const })),
    vmaWritable: new Array<boolean>(mmNrPages(g)).fill(true),
    hasPinned: false,
    cpumask: new Array<boolean>(g.nrCpus).fill(false),
    tlbFlushBatched: { pending: 0, flushed: 0 },
    tlbFlushPending: 0,
    mmapReaders: 0,
    writeProtectSeq: 0,
  };
  m.mms.push(mm);
  return mm;
}
