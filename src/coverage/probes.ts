import { folioNrPages } from '../../models/machine/geometry';
import type { MmId, Pfn } from '../../models/machine/ids';
import { mmId, pfn as asPfn, vpn as asVpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { pteAt, tableEntries } from '../../models/machine/pgtable';
import { nextChunkInUse } from '../../models/machine/frameChunks';
import type { Applied } from '../ops/apply';
import type { Op } from '../ops/op';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { BatchedKernel } from '../../models/batched/BatchedKernel';
import { BatchedGupRuns } from '../../models/batched/gupRuns';
import { BATCHED_TRACEPOINTS, COLLAPSE_TRACEPOINTS, COW615_TRACEPOINTS, GUP_RUNS_TRACEPOINTS, MACHINE_TRACEPOINTS, FILE_TRACEPOINTS, MIGRC_AS_POSTED_TRACEPOINTS, RECLAIM_TRACEPOINTS, REFERENCE_TRACEPOINTS, TASK_TRACEPOINTS, ZERO_PAGE_TRACEPOINTS } from '../../models/tracepoints';
import { hasCowReuse615 } from '../../models/specFor';
import { MigrcAsPosted } from '../../models/migrcAsPosted/MigrcAsPosted';

/**
 * "Sometimes" properties: interesting states a random sequence should reach, so that a passing
 * check is not vacuous. Each probe is named after the state; `CoverageTracker` records which
 * ones a sequence reached. Kernel tracepoints (`m.marks`) are counted too, under `mark:<name>`.
 */
export const STATE_PROBES = [
  'large folio PTE-mapped by two mms',
  'pinned page across fork',
  'partially mapped large folio',
  'write fault copied',
  'write fault reused',
  'freed frame reused',
  'table free attempted while a walker is inside',
  'PMD-mapped folio',
  'R/O pin unshared a shared page',
  'GUP-fast walk finished with a handle',
  'migration moved a folio',
  // Physical memory (memHole, allocPolicy): a folio whose next frame is not RAM, and one at the
  // top of memory, are where a walk one past the folio end reads a struct page that is not there.
  'folio allocated next to a hole',
  'folio at the top of memory',
] as const;

export type StateProbe = (typeof STATE_PROBES)[number];

/** A probe reached in fewer than this share of a check's sequences (in percent) is flagged rare. */
export const RARE_PERCENT = 0.5;

/**
 * Every probe and tracepoint a check of `kernel` can report, in the order the summary lists them:
 * the state probes, the machine's and the reference paths' tracepoints, the batched paths' for a
 * kernel built on BatchedKernel, and those of the 6.15 COW policy, migrc-as-posted and the
 * GUP-runs proposal for kernels built on them, and the zero page's on a machine with one
 * (`zeroPage`), and for an interleaved check of a batched kernel the task windows' (`interleave`). A check lists each of them, reached or not, so a path that was never exercised
 * shows as ✗ instead of disappearing.
 */
export function reportedProbes(kernel: ReferenceKernel, zeroPage = false, interleave = false): string[] {
  const marks: readonly string[] = [
    ...MACHINE_TRACEPOINTS,
    ...REFERENCE_TRACEPOINTS,
    ...RECLAIM_TRACEPOINTS,
    ...FILE_TRACEPOINTS,
    ...COLLAPSE_TRACEPOINTS,
    ...(kernel instanceof BatchedKernel ? BATCHED_TRACEPOINTS : []),
    ...(hasCowReuse615(kernel) ? COW615_TRACEPOINTS : []),
    ...(kernel instanceof MigrcAsPosted ? MIGRC_AS_POSTED_TRACEPOINTS : []),
    ...(kernel instanceof BatchedGupRuns ? GUP_RUNS_TRACEPOINTS : []),
    ...(zeroPage ? ZERO_PAGE_TRACEPOINTS : []),
    ...(interleave && kernel instanceof BatchedKernel ? TASK_TRACEPOINTS : []),
  ];
  return [...STATE_PROBES, ...marks.map((t) => `mark:${t}`)];
}

/** Watches one kernel's run; `before`/`after` bracket each op. */
export class CoverageTracker {
  readonly reached = new Set<string>();
  /** How many times each tracepoint fired in the run so far (guided mode tells 1 from many). */
  readonly markCounts = new Map<string, number>();
  private copiesBefore = 0;
  private wpFaultCandidate = false;
  /** An R/O pin was requested on a page that is mapped but not exclusive (it must unshare). */
  private roPinOnShared = false;
  /** A physical-memory op ran in this sequence: only then can a folio border a hole or the top. */
  private physMem = false;

  before(m: Machine, op: Op | null): void {
    this.copiesBefore = m.stats.pagesCopied;
    this.wpFaultCandidate = false;
    this.roPinOnShared = false;
    if (op === null) return;
    if (op.kind === 'memHole' || op.kind === 'allocPolicy') this.physMem = true;
    if (op.kind === 'access' && op.write) {
      const pte = pteAt(m, mmId(op.mm), asVpn(op.vpn));
      this.wpFaultCandidate = pte !== null && pte.kind === 'present' && !pte.writable;
    }
    if (op.kind === 'fork' && m.handles.some((h) => h.pin && h.mm === op.mm)) this.reached.add('pinned page across fork');
    if ((op.kind === 'freeTable' || op.kind === 'exit') && m.cpus.some((c) => c.walker !== null && c.walker.mm === op.mm)) {
      this.reached.add('table free attempted while a walker is inside');
    }
    if (op.kind === 'gup' && op.pin && !op.write) {
      const pte = pteAt(m, mmId(op.mm), asVpn(op.vpn));
      if (pte !== null && pte.kind === 'present' && !(m.frames[pte.pfn]?.anonExclusive ?? true)) this.roPinOnShared = true;
    }
  }

  after(m: Machine, a: Applied): void {
    const op = a.resolved;
    const copied = m.stats.pagesCopied > this.copiesBefore;
    if (op !== null && op.kind === 'access' && op.write && a.result.kind === 'value' && this.wpFaultCandidate) {
      this.reached.add(copied ? 'write fault copied' : 'write fault reused');
    }
    if (this.roPinOnShared && a.result.kind === 'handle') this.reached.add('R/O pin unshared a shared page');
    this.roPinOnShared = false;
    if (op !== null && op.kind === 'walkEnd' && a.result.kind === 'handle') this.reached.add('GUP-fast walk finished with a handle');
    if (a.result.kind === 'migrated' && a.result.folios > 0) this.reached.add('migration moved a folio');
    this.scanState(m);
    // Only the tracepoints whose count moved: this runs after every step.
    for (const name in m.marks) {
      const n = m.marks[name];
      if (n === undefined || this.markCounts.get(name) === n) continue;
      this.reached.add(`mark:${name}`);
      this.markCounts.set(name, n);
    }
  }

  private scanState(m: Machine): void {
    // Probes are reached once per sequence: the walk of every table is skipped once it can add nothing.
    if (!(this.reached.has('PMD-mapped folio') && this.reached.has('large folio PTE-mapped by two mms') && this.reached.has('partially mapped large folio'))) this.scanTables(m);
    if (!this.reached.has('freed frame reused') && someFrameReused(m)) this.reached.add('freed frame reused');
    if (this.physMem) this.scanPhysMem(m);
  }

  /** Large folios mapped by PTEs of two mms, or only partly; PMD-mapped folios. */
  private scanTables(m: Machine): void {
    const owners = new Map<Pfn, Set<MmId>>();
    for (const mm of m.mms) {
      if (!mm.alive) continue;
      for (const pmd of mm.pmds) {
        if (pmd.kind === 'leaf') this.reached.add('PMD-mapped folio');
        if (pmd.kind !== 'table') continue;
        for (const e of tableEntries(m, pmd.table)) {
          if (e.kind !== 'present') continue;
          const head = m.frames[e.pfn]!.head;
          if ((m.frames[head]?.folio?.order ?? 0) === 0) continue;
          let s = owners.get(head);
          if (s === undefined) owners.set(head, (s = new Set()));
          s.add(mm.id);
        }
      }
    }
    for (const [head, mms] of owners) {
      if (mms.size >= 2) this.reached.add('large folio PTE-mapped by two mms');
      const f = m.frames[head]!.folio!;
      if (f.entireMapcount === 0) {
        let mapped = 0;
        for (let k = 0; k < folioNrPages(f.order); k++) if (m.frames[asPfn(head + k)]!.mapcount > 0) mapped++;
        if (mapped < folioNrPages(f.order)) this.reached.add('partially mapped large folio');
      }
    }
  }

  /** Data folios whose frame after the last page is a hole, or that end at the last frame of RAM. */
  private scanPhysMem(m: Machine): void {
    const n = m.geometry.nrFrames;
    if (this.reached.has('folio allocated next to a hole') && this.reached.has('folio at the top of memory')) return;
    for (let p = nextChunkInUse(m, 0); p < n; p = nextChunkInUse(m, p + 1)) {
      const f = m.frames[p]!.folio;
      if (m.frames[p]!.state !== 'data' || f === null) continue;
      const after = p + folioNrPages(f.order);
      if (after >= n) this.reached.add('folio at the top of memory');
      else if (m.frames[after]!.state === 'hole') this.reached.add('folio allocated next to a hole');
    }
  }
}

/** A frame in use that was allocated before (its generation counts two allocations or more). */
function someFrameReused(m: Machine): boolean {
  for (let p = nextChunkInUse(m, 0); p < m.frames.length; p = nextChunkInUse(m, p + 1)) {
    const f = m.frames[p]!;
    if (f.gen >= 2 && f.state !== 'free') return true;
  }
  return false;
}
