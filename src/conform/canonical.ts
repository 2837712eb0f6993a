import type { PageObservation, StepObservation } from './observation';

/**
 * Observations in a form both sides can be compared in: frame numbers replaced by identity
 * classes, numbered in order of first appearance within the step (mms by id, pages by address),
 * so "these two pages share a frame" and "these pages are parts of one folio" compare while the
 * numbers themselves — which the model's allocator and the kernel's buddy allocator choose
 * differently — do not. The shared zero page is named `zero`.
 */
export function canonicalLines(o: StepObservation): string[] {
  const frames = new Map<number, string>();
  const folios = new Map<number, string>();
  const label = (ids: Map<number, string>, prefix: string, key: number): string => {
    let l = ids.get(key);
    if (l === undefined) {
      l = `${prefix}${ids.size}`;
      ids.set(key, l);
    }
    return l;
  };
  const lines = o.results.map((r) => `result: ${r}`);
  for (const p of o.pages) lines.push(pageLine(p, (x) => label(frames, 'f', x), (x) => label(folios, 'F', x)));
  return lines;
}

function pageLine(p: PageObservation, frame: (pfn: number) => string, folio: (head: number) => string): string {
  const where = `mm${p.mm} vpn ${p.vpn}:`;
  if (p.zero) return `${where} zero page, value ${p.value}`;
  const kind = p.order > 0 ? `folio ${folio(p.head)} order ${p.order}${p.thp ? ' THP' : ' (not THP)'}` : `small${p.thp ? ' THP' : ''}`;
  return `${where} ${frame(p.pfn)} ${kind}, mapcount ${p.mapcount}${p.exclusive ? ' exclusive' : ''}, value ${p.value}`;
}

/** Where the model's and the kernel's observables first differ. */
export interface Difference {
  readonly step: number;
  readonly model: string;
  readonly kernel: string;
  /** Both sides' whole canonical observation of that step. */
  readonly modelLines: readonly string[];
  readonly kernelLines: readonly string[];
}

/** The first place two observation lists differ (step, then line), or null when they agree. */
export function firstDifference(model: readonly StepObservation[], kernel: readonly StepObservation[]): Difference | null {
  for (let i = 0; i < model.length; i++) {
    const a = model[i]!;
    const b = kernel[i];
    const al = canonicalLines(a);
    if (b === undefined) return { step: a.step, model: al[0] ?? '(nothing mapped)', kernel: '(the program stopped before this step)', modelLines: al, kernelLines: [] };
    const bl = canonicalLines(b);
    for (let j = 0; j < Math.max(al.length, bl.length); j++) {
      if (al[j] !== bl[j]) return { step: a.step, model: al[j] ?? '(no more lines)', kernel: bl[j] ?? '(no more lines)', modelLines: al, kernelLines: bl };
    }
  }
  return null;
}
