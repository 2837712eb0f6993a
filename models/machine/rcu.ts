import type { CpuId } from './ids';
import { mark } from './marks';
import type { Cpu, Machine, RcuAction, Walker } from './state';
import { freeTableFrame } from './frames';

/**
 * RCU as the model needs it. A grace period waits for every CPU that is inside an RCU read-side
 * section *or* an IRQs-disabled region when the callback is queued (since the RCU flavour
 * consolidation, a normal grace period also waits for IRQs-off regions); sections that begin
 * later do not delay it. Callbacks run at `tick`/`drain`, once their grace period is over.
 */

function inSection(c: Cpu): boolean {
  return c.irqsDisabled || c.inRcuReader;
}

/** call_rcu(). */
export function callRcu(m: Machine, action: RcuAction): void {
  m.stats.rcuCallbacksQueued++;
  const waitFor = m.cpus.filter(inSection).map((c) => [c.id, c.quiescentSeq] as const);
  for (const c of m.cpus) {
    const w = c.walker;
    if (w === null || w.table === null || !action.tables.includes(w.table)) continue;
    // A GUP-fast walk on a table being freed never gets here: the freed_tables flush before
    // call_rcu() waited for its IRQs-off section (WalkerPaths.flushIpiWaitsForIrqsOff).
    if (w.kind === 'pteOffsetMap') mark(m, 'RCU table free waits for a pte_offset_map() reader');
  }
  m.rcu.callbacks.push({ waitFor, action });
}

function gracePeriodOver(m: Machine, waitFor: ReadonlyArray<readonly [CpuId, number]>): boolean {
  return waitFor.every(([cpu, seq]) => (m.cpus[cpu]?.quiescentSeq ?? seq + 1) > seq);
}

function runAction(m: Machine, a: RcuAction): void {
  switch (a.kind) {
    case 'freeTables':
      for (const t of a.tables) freeTableFrame(m, t);
      return;
  }
}

/** Run every callback whose grace period is over, in queue order; returns how many ran. */
export function rcuRunReadyCallbacks(m: Machine): number {
  const ready = m.rcu.callbacks.filter((cb) => gracePeriodOver(m, cb.waitFor));
  if (ready.length === 0) return 0;
  m.rcu.callbacks = m.rcu.callbacks.filter((cb) => !ready.includes(cb));
  for (const cb of ready) runAction(m, cb.action);
  return ready.length;
}

/** A lockless walker enters its section on `cpu` (local_irq_save() or rcu_read_lock()). */
export function walkerEnter(m: Machine, cpu: CpuId, w: Walker): void {
  const c = m.cpus[cpu];
  if (c === undefined || c.walker !== null) throw new Error(`cpu ${cpu} cannot start a walker`);
  c.walker = w;
  if (w.kind === 'gupFast') c.irqsDisabled = true;
  else c.inRcuReader = true;
}

/** The walker on `cpu` leaves its section (local_irq_restore() / rcu_read_unlock()). */
export function walkerExit(m: Machine, cpu: CpuId): void {
  const c = m.cpus[cpu];
  if (c === undefined || c.walker === null) return;
  c.walker = null;
  c.irqsDisabled = false;
  c.inRcuReader = false;
  c.quiescentSeq++;
}
