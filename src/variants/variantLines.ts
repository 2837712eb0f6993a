import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eachMapping, TraceMap } from '@jridgewell/trace-mapping';
import { functionBodies, insideAny } from './functionBodies';
import { countAt } from './rangeCounts';
import type { CoverageRange } from './rangeCounts';
import type { CompiledScript } from './scriptSource';

/** What a check did with one variant file, line by line (lines are 1-based, as an editor shows them). */
export interface VariantLines {
  readonly file: string;
  /** Lines of code inside function bodies: the ones a check can run or miss. */
  readonly executable: number;
  /** Executable lines none of whose code ran; `text` is the line trimmed. */
  readonly unexecuted: ReadonlyArray<{ readonly line: number; readonly text: string }>;
}

/** One script compiled from the variant (usually one; more if it was loaded twice), and its coverage from each take. */
export interface ScriptRun {
  readonly compiled: CompiledScript;
  readonly snapshots: ReadonlyArray<readonly CoverageRange[]>;
}

/** A point of code: where the author wrote it, and where V8 compiled it. */
interface Point {
  readonly line: number;
  readonly offset: number;
  readonly compiledOffset: number;
}

/** Lines with nothing to run of their own: braces, brackets, `} else {`, `try {`. */
const STRUCTURAL = /^(?:[{}()[\];,\s]|\b(?:else|try|finally|do)\b)*$/;

const lineStarts = (text: string): number[] => {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
};

/**
 * The executable and unexecuted lines of `file` (whose current text is `text`). A line is
 * executable when the source map places compiled code at a point on it inside a function body;
 * it ran if the V8 count of any such point is non-zero (counts from successive takes add up, since
 * each take resets V8's counters). So a line that ran only in part — `if (rare) act();` whose
 * condition was evaluated but whose `act()` never was — counts as run.
 */
export function variantLines(file: string, text: string, runs: readonly ScriptRun[]): VariantLines {
  const starts = lineStarts(text);
  const bodies = functionBodies(text, file);
  const counts = new Map<number, number>();
  for (const run of runs) {
    for (const p of points(file, text, starts, run.compiled)) {
      if (!insideAny(bodies, p.offset)) continue;
      const n = run.snapshots.reduce((sum, ranges) => sum + countAt(ranges, p.compiledOffset), 0);
      counts.set(p.line, Math.max(counts.get(p.line) ?? 0, n));
    }
  }
  const lines = text.split('\n');
  const executable = [...counts.entries()].filter(([line]) => !STRUCTURAL.test(lines[line - 1] ?? ''));
  return {
    file,
    executable: executable.length,
    unexecuted: executable
      .filter(([, n]) => n === 0)
      .map(([line]) => ({ line, text: (lines[line - 1] ?? '').trim() }))
      .sort((a, b) => a.line - b.line),
  };
}

/**
 * Every point of code in the compiled script that the source map ties to `file`. Without a map the
 * script is the file itself, and each line's first non-blank character stands for the line.
 */
function points(file: string, text: string, starts: readonly number[], compiled: CompiledScript): Point[] {
  if (compiled.map === null) {
    return starts.flatMap((start, i) => {
      const first = text.slice(start, starts[i + 1] ?? text.length).search(/\S/);
      if (first === -1 || /^(?:\/\/|\/\*|\*)/.test(text.slice(start + first))) return []; // blank or comment
      return [{ line: i + 1, offset: start + first, compiledOffset: start + first }];
    });
  }
  const compiledStarts = lineStarts(compiled.source);
  const map = new TraceMap(compiled.map);
  // esbuild transforms one file at a time, so a one-source map is this file whatever path it records
  const single = map.sources.length === 1;
  const out: Point[] = [];
  eachMapping(map, (m) => {
    if (m.source === null || m.originalLine === null) return;
    if (!single && toPath(m.source) !== file) return;
    const lineStart = starts[m.originalLine - 1];
    const compiledLineStart = compiledStarts[m.generatedLine - 1];
    if (lineStart === undefined || compiledLineStart === undefined) return;
    out.push({ line: m.originalLine, offset: lineStart + m.originalColumn, compiledOffset: compiledLineStart + m.generatedColumn });
  });
  return out;
}

const toPath = (source: string): string => (source.startsWith('file:') ? fileURLToPath(source) : resolve(source));
