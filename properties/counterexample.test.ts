import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { opsArb } from '../src/arbitraries/ops';
import type { Counterexample } from '../src/counterexample/file';
import { CounterexampleFileError, readCounterexample, writeCounterexample } from '../src/counterexample/file';

const dir = mkdtempSync(join(tmpdir(), 'mmcheck-cx-'));

const sample = (ops: Counterexample['ops']): Counterexample => ({
  format: 'mmcheck-counterexample/1',
  kernel: 'reference',
  kernelSpec: 'reference',
  geometry: 'small',
  seed: 1,
  path: '0:1',
  status: 'shrunk',
  ops,
  violation: { code: 'kernel_warn', step: 0, message: 'x' },
});

describe('counterexample files', () => {
  it('read back what was written, for any op list', () => {
    const file = join(dir, 'roundtrip.json');
    fc.assert(
      fc.property(opsArb(geometry('small'), 30), (ops) => {
        writeCounterexample(file, sample(ops));
        expect(readCounterexample(file)).toEqual(sample(ops));
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ['a missing file', null, 'cannot read'],
    ['a truncated file', '{"format":"mmcheck-counterexample/1","ker', 'not valid JSON'],
    ['the wrong format tag', '{"format":"other"}', "'format' must be"],
    ['an unknown op kind', JSON.stringify({ ...sample([]), ops: [{ kind: 'teleport' }] }), 'unknown op kind "teleport"; valid kinds: map'],
    ['an op with a missing field', JSON.stringify({ ...sample([]), ops: [{ kind: 'zap', mm: 0, vpn: 1 }] }), "field 'nr' must be an integer"],
    ['an op with an extra field', JSON.stringify({ ...sample([]), ops: [{ kind: 'tick', when: 3 }] }), 'unexpected field(s) when'],
    ['no violation', JSON.stringify({ ...sample([]), violation: null }), "'violation' must be an object"],
  ])('reject %s with a message saying what is wrong', (_name, content, message) => {
    const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
    if (content !== null) writeFileSync(file, content);
    expect(() => readCounterexample(file)).toThrow(CounterexampleFileError);
    expect(() => readCounterexample(file)).toThrow(message);
  });
});
