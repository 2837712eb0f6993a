import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
    ['an extra top-level field', JSON.stringify({ ...sample([]), note: 'x' }), 'unexpected field(s) note; valid fields: format'],
  ])('reject %s with a message saying what is wrong', (_name, content, message) => {
    const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
    if (content !== null) writeFileSync(file, content);
    expect(() => readCounterexample(file)).toThrow(CounterexampleFileError);
    expect(() => readCounterexample(file)).toThrow(message);
  });
});

describe('counterexample files as text', () => {
  const write = (text: string): string => {
    const file = join(dir, `text-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, text);
    return file;
  };
  const fixture = join(import.meta.dirname, 'fixtures', 'mutants', 'free-before-flush.json');

  it('read a file that starts with a UTF-8 byte-order mark, as some editors save JSON', () => {
    const text = readFileSync(fixture, 'utf8');
    expect(readCounterexample(write(`\uFEFF${text}`))).toEqual(readCounterexample(fixture));
  });

  // JSON.parse makes "__proto__" an own field: it must be refused, not dropped, kept or turned into a prototype.
  const text = (ops: string, violation = '{"code":"kernel_warn","step":0,"message":"x"}', extra = ''): string =>
    `{"format":"mmcheck-counterexample/1",${extra}"kernel":"reference","kernelSpec":"reference","geometry":"small","seed":1,"path":"","status":"shrunk","ops":${ops},"violation":${violation}}`;
  it.each([
    ['an op', text('[{"kind":"tick"},{"kind":"fork","mm":0,"__proto__":{"polluted":true}}]'), "ops[1] (fork): field '__proto__' is refused: __proto__, constructor, prototype are never valid field names"],
    ['an op (constructor)', text('[{"kind":"exit","mm":0,"constructor":{"polluted":true}}]'), "ops[0] (exit): field 'constructor' is refused"],
    ['the top level', text('[]', undefined, '"__proto__":{"polluted":true},'), "'__proto__' is refused"],
    ['the top level (prototype)', text('[]', undefined, '"prototype":{"polluted":true},'), "'prototype' is refused"],
    ['the violation', text('[]', '{"code":"kernel_warn","step":0,"__proto__":{"polluted":true}}'), "'violation.__proto__' is refused"],
  ])('refuse a reserved field name in %s, in one line, polluting nothing', (_name, content, message) => {
    const file = write(content);
    expect(JSON.parse(content)).toBeDefined(); // valid JSON: the refusal is mmcheck's
    expect(() => readCounterexample(file)).toThrow(CounterexampleFileError);
    expect(() => readCounterexample(file)).toThrow(message);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
