import type { Violation } from '../../models/machine/violation';

/**
 * A violation in the words of the state view (src/report/stateView.ts): its code and step, then its
 * fields as the view names things — `cpu0`, `mm0.vpn21`, `pfn 1`, `table pfn 7` — instead of JSON.
 */
export function violationText(v: Violation): string {
  const fields: Record<string, unknown> = { ...v };
  const take = (k: string): unknown => {
    const x = fields[k];
    delete fields[k];
    return x;
  };
  const { code, step } = v;
  take('code');
  take('step');
  const parts: string[] = [];
  const cpu = take('cpu');
  const mm = take('mm');
  const vpn = take('vpn');
  if (cpu !== undefined) parts.push(`cpu${String(cpu)}`);
  if (mm !== undefined) parts.push(vpn !== undefined ? `mm${String(mm)}.vpn${String(vpn)}` : `mm${String(mm)}`);
  else if (vpn !== undefined) parts.push(`vpn ${String(vpn)}`);
  const pfn = take('pfn');
  if (pfn !== undefined) parts.push(`pfn ${String(pfn)}`);
  const table = take('table');
  if (table !== undefined) parts.push(`table pfn ${String(table)}`);
  for (const [k, x] of Object.entries(fields)) parts.push(`${k} ${typeof x === 'string' ? x : JSON.stringify(x)}`);
  return `${code} at step ${step}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

/**
 * The rows of a state view that name what a violation is about: the TLB entry of its CPU and
 * address, and every row whose value names its frame or table (`pfn 1`): for a page freed under a
 * stale TLB entry, the entry that still maps it.
 */
export function violationRows(v: Violation, view: ReadonlyMap<string, string>): Array<[string, string]> {
  const f = v as Readonly<Record<string, unknown>>;
  const keys = new Set<string>();
  if (f['cpu'] !== undefined && f['mm'] !== undefined && f['vpn'] !== undefined) keys.add(`cpu${String(f['cpu'])}.tlb.mm${String(f['mm'])}.vpn${String(f['vpn'])}`);
  const frames = ['pfn', 'table'].map((k) => f[k]).filter((x): x is number => typeof x === 'number');
  const names = frames.map((p) => new RegExp(`(^|\\s)pfn ${p}(\\s|$)`));
  return [...view].filter(([k, value]) => keys.has(k) || names.some((re) => re.test(value)));
}

/**
 * A path of the differential's observation (src/oracles/observe.ts) as the state view names it:
 * `state.mms.1.pmds.0.5` → `mm1.pmd0.pte5`, `state.folios.s0.1.refcount` → `folio s0.1 refcount`.
 */
export function observationKey(path: string): string {
  const p = path.replace(/^state\.?/, '');
  const pte = /^mms\.(\d+)\.pmds\.(\d+)\.(\d+)$/.exec(p);
  if (pte !== null) return `mm${pte[1]}.pmd${pte[2]}.pte${pte[3]}`;
  const pmd = /^mms\.(\d+)\.pmds\.(\d+)$/.exec(p);
  if (pmd !== null) return `mm${pmd[1]}.pmd${pmd[2]}`;
  const mm = /^mms\.(\d+)\.(\w+)$/.exec(p);
  if (mm !== null) return `mm${mm[1]}.${mm[2]}`;
  const folio = /^folios\.([a-z]*\d+\.\d+|[^.]+)(?:\.(.+))?$/.exec(p);
  if (folio !== null) return `folio ${folio[1]}${folio[2] !== undefined ? ` ${folio[2]}` : ''}`;
  const handle = /^handles\.(\d+)(?:\.(\d+))?$/.exec(p);
  if (handle !== null) return `handle${handle[1]}${handle[2] !== undefined ? `[${handle[2]}]` : ''}`;
  const cache = /^files\.(\d+)\.cache\.(\d+)$/.exec(p);
  if (cache !== null) return `file${cache[1]} page cache index ${cache[2]}`;
  const store = /^files\.(\d+)\.store$/.exec(p);
  if (store !== null) return `file${store[1]} disk`;
  if (p === 'freeFrames') return 'free frames';
  return p;
}

/** An observed value as the state view prints it: strings bare, nothing as `none`. */
export const observedValue = (x: unknown): string => (x === undefined || x === null ? 'none' : typeof x === 'string' ? x : JSON.stringify(x));
