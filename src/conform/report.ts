import type { ModelProgram } from './modelRun';
import type { Difference } from './canonical';
import { canonicalLines } from './canonical';
import { commandLine } from './cCall';
import type { ConformFailure, ConformStats } from './runConform';

const fmt = (n: number): string => n.toLocaleString('en-US');

/** What the programs ran: counts per runtime call and per reason an op was left out. */
export function statsLines(s: ConformStats): string[] {
  const calls = [...s.calls.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${fmt(n)}`);
  const lines = [`${fmt(s.programs)} programs, ${fmt(s.steps)} steps; calls run on the kernel: ${calls.join(', ') || 'none'}`];
  const left = [...s.leftOut.entries()].sort((a, b) => b[1] - a[1]);
  if (left.length > 0) {
    lines.push('ops left out (no user-level counterpart, on both sides):');
    for (const [why, n] of left) lines.push(`  ${fmt(n).padStart(6)}  ${why}`);
  }
  return lines;
}

/** The program as it ran: one numbered step per op, with its runtime calls or why it was left out. */
export function programLines(p: ModelProgram, mark: number | null): string[] {
  return p.steps.map((s) => {
    const what = s.left !== null ? `left out: ${s.left}` : s.calls.length === 0 ? 'no-op in the model: nothing run' : s.calls.map((c) => commandLine(s.step, c).replace(/^(\w+) \d+/, '$1')).join('; ');
    return `${s.step === mark ? '  ✗' : '   '} ${String(s.step).padStart(3)}  ${s.text.padEnd(44)} → ${what}`;
  });
}

/** Both sides' observables at the step where they first differ, the first differing line marked. */
export function differenceLines(d: Difference): string[] {
  const side = (name: string, lines: readonly string[], first: string): string[] => [
    `${name} after step ${d.step}:`,
    ...(lines.length === 0 ? ['    (nothing mapped, no result)'] : lines.map((l) => `  ${l === first ? '→' : ' '} ${l}`)),
  ];
  return [`first difference at step ${d.step}:`, `  model:  ${d.model}`, `  kernel: ${d.kernel}`, ...side('model', d.modelLines, d.model), ...side('kernel', d.kernelLines, d.kernel)];
}

export function failureLines(f: ConformFailure): string[] {
  const d = f.comparison.difference;
  return [
    `counterexample: ${f.ops.length} ops (${f.shrinkRuns} programs run while shrinking); the kernel showed it ${f.reproduced} of ${f.reruns} re-runs`,
    ...programLines(f.comparison.program, d?.step ?? null),
    ...(d === null ? ['(the re-run showed no difference)'] : differenceLines(d)),
  ];
}

/** The model's observables, step by step, as `export-c` writes them next to the program. */
export function expectedText(p: ModelProgram): string {
  const out: string[] = [];
  for (const o of p.expected) out.push(`step ${o.step}`, ...canonicalLines(o).map((l) => `  ${l}`));
  return `${out.join('\n')}\n`;
}
