import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { countAt } from '../src/variants/rangeCounts';
import { functionBodies, insideAny } from '../src/variants/functionBodies';
import type { VariantLines } from '../src/variants/lineCoverage';

const root = join(import.meta.dirname, '..');
const child = join(root, 'properties', '__helpers__', 'lineCoverageChild.mjs');
const fixture = join(root, 'properties', 'fixtures', 'variants', 'zapCheckedStep.ts');
const fixtureLines = readFileSync(fixture, 'utf8').split('\n');

/** The 1-based line of the fixture that starts (once trimmed) with `start`. */
function lineOf(start: string): { line: number; text: string } {
  const i = fixtureLines.findIndex((l) => l.trim().startsWith(start));
  if (i === -1) throw new Error(`no line of the fixture starts with ${start}`);
  return { line: i + 1, text: fixtureLines[i]!.trim() };
}

// The body of the fixture's zapPresentPtes override, line by line.
const taken = [lineOf('const step = super.zapPresentPtes('), lineOf('if (step.nr > maxNr) {'), lineOf('return step;')];
const guard = [lineOf('this.warnOn(m, true,'), lineOf('return { ...step, nr: maxNr };')];

/** Run the child (tsx registered as bin/mmcheck.js does) and parse the lines it prints after each tag. */
async function runChild(where: 'main' | 'worker', mode: 'check' | 'load-only'): Promise<Map<string, unknown>> {
  const failures = mkdtempSync(join(tmpdir(), 'mmcheck-linecov-'));
  const { stdout } = await promisify(execFile)(process.execPath, [child, where, mode, fixture, failures], { cwd: root, maxBuffer: 16 << 20 });
  return new Map(stdout.split('\n').flatMap((l) => (/^[A-Z_]+ \{/.test(l) ? [[l.slice(0, l.indexOf(' ')), JSON.parse(l.slice(l.indexOf(' ') + 1)) as unknown] as const] : [])));
}

describe.concurrent('which lines of a variant never ran (V8 block coverage through tsx)', () => {
  it('after a check: exactly the never-taken branch, not the lines around it', async () => {
    const lines = (await runChild('main', 'check')).get('LINES') as VariantLines;
    expect(lines.file).toBe(fixture);
    expect(lines.executable).toBe(taken.length + guard.length); // the signature, class field, imports, braces and comments are not counted
    expect(lines.unexecuted).toEqual(guard);
  });

  it('a variant loaded but never run: every line of its method body', async () => {
    const lines = (await runChild('main', 'load-only')).get('LINES') as VariantLines;
    expect(lines.unexecuted).toEqual([...taken, ...guard].sort((a, b) => a.line - b.line));
  });

  it('inside a worker_threads Worker: the worker counts its own code, the main thread sees none of it', async () => {
    const out = await runChild('worker', 'check');
    const lines = out.get('WORKER_LINES') as VariantLines;
    expect(lines.executable).toBe(taken.length + guard.length);
    expect(lines.unexecuted).toEqual(guard);
    expect(out.get('MAIN_THREAD_TAKE')).toEqual({ error: expect.stringContaining('was not loaded in this thread') });
  });
});

describe('the pieces', () => {
  it('countAt: the innermost range holding an offset gives its count; outside every range, 0', () => {
    const fn = { startOffset: 0, endOffset: 100, count: 3 };
    const block = { startOffset: 20, endOffset: 40, count: 0 };
    const inner = { startOffset: 25, endOffset: 30, count: 7 };
    expect(countAt([fn, block, inner], 10)).toBe(3);
    expect(countAt([fn, block, inner], 22)).toBe(0);
    expect(countAt([fn, block, inner], 27)).toBe(7);
    expect(countAt([fn, block, inner], 40)).toBe(3); // ranges are half-open
    expect(countAt([fn, block], 100)).toBe(0);
    expect(countAt([fn, { ...fn, count: 5 }], 50)).toBe(5); // equal ranges: the later, a block of the function, is the more specific
  });

  it('functionBodies: code inside bodies (arrow expressions too), not signatures, fields or top-level code', () => {
    const src = ['const top = 1;', 'class K {', '  field = 2;', '  m(a: number): number {', '    return a;', '  }', '}', 'const f = (x: number) => x + 1;'].join('\n');
    const bodies = functionBodies(src, 'k.ts');
    const at = (s: string): boolean => insideAny(bodies, src.indexOf(s));
    expect(at('return a')).toBe(true);
    expect(at('x + 1')).toBe(true);
    expect(at('top')).toBe(false);
    expect(at('field')).toBe(false);
    expect(at('a: number')).toBe(false);
  });
});
