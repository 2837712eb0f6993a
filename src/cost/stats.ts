import type { Stats } from '../../models/machine/state';

/** The cost counters in table order, each with the label the table prints (the kernel's terms). */
export const COUNTERS: readonly { readonly key: keyof Stats; readonly label: string }[] = [
  { key: 'atomicRefUpdates', label: 'atomic ref/pin updates' },
  { key: 'rmapCalls', label: 'rmap add/remove calls' },
  { key: 'gatherSlots', label: 'mmu_gather slots' },
  { key: 'tlbFlushCalls', label: 'TLB flush calls' },
  { key: 'tlbFlushIpis', label: 'TLB flush IPIs (CPUs hit)' },
  { key: 'tableSyncIpis', label: 'table-sync IPIs' },
  { key: 'rcuCallbacksQueued', label: 'RCU callbacks queued' },
  { key: 'pagesCopied', label: 'pages copied' },
  { key: 'tablesFreed', label: 'page tables freed' },
];

/** after - before, per counter. */
export function statsDelta(before: Stats, after: Stats): Stats {
  const d = { ...after };
  for (const { key } of COUNTERS) d[key] = after[key] - before[key];
  return d;
}
