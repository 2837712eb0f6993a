import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { opsArb } from '../src/arbitraries/ops';
import { OP_KINDS } from '../src/ops/op';
import type { Op } from '../src/ops/op';
import type { z } from 'zod';
import { opSchema } from '../src/schema/op';
import { counterexampleSchema } from '../src/schema/counterexample';
import { renderJsonSchemas } from '../src/schema/jsonSchemas';
import { parseWith } from '../src/schema/parse';

const root = join(import.meta.dirname, '..');

const file = (ops: readonly unknown[]) => ({
  format: 'mmcheck-counterexample/1',
  kernel: 'reference',
  kernelSpec: 'reference',
  geometry: 'small',
  seed: 1,
  path: '',
  status: 'shrunk',
  ops,
  violation: { code: 'kernel_warn', step: 0, message: 'x' },
});

/** The op list with one op replaced. */
const withOp = (ops: readonly object[], i: number, o: object): object[] => ops.map((x, j) => (j === i ? o : x));

const problem = (data: unknown): string => {
  const r = parseWith(counterexampleSchema, data);
  return r.ok ? 'accepted' : r.problem;
};

describe('the file formats, from their zod definitions', () => {
  it('schema/*.schema.json are what `npm run schema` generates (rerun it after changing src/schema/)', () => {
    const generated = renderJsonSchemas();
    expect([...generated.keys()].sort()).toEqual(['schema/counterexample.schema.json', 'schema/op.schema.json', 'schema/report.schema.json', 'schema/scenario.schema.json']);
    for (const [path, text] of generated) expect(readFileSync(join(root, path), 'utf8'), path).toBe(text);
  });

  it('the op JSON Schema defines exactly the op kinds the code has', () => {
    const op = JSON.parse(readFileSync(join(root, 'schema', 'op.schema.json'), 'utf8')) as { $defs: { op: { oneOf: Array<{ properties: { kind: { const: string } }; additionalProperties: boolean }> } } };
    expect(op.$defs.op.oneOf.map((o) => o.properties.kind.const)).toEqual([...OP_KINDS]);
    expect(op.$defs.op.oneOf.every((o) => o.additionalProperties === false)).toBe(true);
  });

  it('accept every generated op list as it is', () => {
    fc.assert(
      fc.property(opsArb(geometry('small'), 30), (ops) => {
        expect(problem(file(ops))).toBe('accepted');
      }),
      { numRuns: 200 },
    );
  });

  /** The fields the schema requires of `o`: an optional one (allocPolicy's pfn, walkBegin's stop) may be left out. */
  const requiredFields = (o: Op): string[] => {
    const shape = opSchema.options.find((v) => v.shape.kind.value === o.kind)!.shape as Record<string, z.ZodType>;
    return Object.keys(o).filter((k) => k !== 'kind' && !shape[k]!.safeParse(undefined).success);
  };

  // Each mutation of one field of one op is reported by op index, kind and field.
  const oneField = fc
    .tuple(opsArb(geometry('small'), 20), fc.nat(), fc.nat())
    .filter(([ops]) => ops.some((o) => requiredFields(o).length > 0))
    .map(([ops, a, b]) => {
      const withFields = ops.map((o, i) => [o, i] as const).filter(([o]) => requiredFields(o).length > 0);
      const [o, i] = withFields[a % withFields.length]!;
      const fields = requiredFields(o);
      return { ops, i, o, field: fields[b % fields.length]! };
    });

  it('refuse an op with a missing field, naming the op, its kind and the field', () => {
    fc.assert(
      fc.property(oneField, ({ ops, i, o, field }) => {
        const { [field]: _dropped, ...rest } = o as unknown as Record<string, unknown>;
        expect(problem(file(withOp(ops, i, rest)))).toMatch(new RegExp(`^ops\\[${i}\\] \\(${o.kind}\\): field '${field}' must be .*, but it is missing`));
      }),
      { numRuns: 100 },
    );
  });

  it('refuse an op field of the wrong type, naming the op, its kind, the field and the value', () => {
    fc.assert(
      fc.property(oneField, ({ ops, i, o, field }) => {
        expect(problem(file(withOp(ops, i, { ...o, [field]: 'x' })))).toMatch(new RegExp(`^ops\\[${i}\\] \\(${o.kind}\\): field '${field}' must be .*, got "x"`));
      }),
      { numRuns: 100 },
    );
  });

  it('refuse an op with an extra field, listing the fields of its kind', () => {
    fc.assert(
      fc.property(oneField, ({ ops, i, o }) => {
        // Every field of the kind, optional ones too (walkBegin's `stop`), whichever the op has.
        const shape = opSchema.options.find((x) => x.shape.kind.value === o.kind)?.shape ?? {};
        const valid = Object.keys(shape);
        const sorted = (s: string): string[] => s.split(', ').sort();
        const message = problem(file(withOp(ops, i, { ...o, typo: 1 })));
        expect(message).toMatch(new RegExp(`^ops\\[${i}\\] \\(${o.kind}\\): unexpected field\\(s\\) typo; valid fields: `));
        expect(sorted(message.split('valid fields: ')[1]!)).toEqual(valid.sort());
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ['a fraction', { kind: 'fork', mm: 0.5 }, "ops[0] (fork): field 'mm' must be an integer, got 0.5"],
    ['an unsafe integer', { kind: 'fork', mm: 2 ** 60 }, "ops[0] (fork): field 'mm' must be a safe integer"],
    ['a number for a boolean', { kind: 'access', cpu: 0, mm: 0, vpn: 0, write: 1 }, "ops[0] (access): field 'write' must be true or false, got 1"],
    ['an unknown walker', { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 0, walker: 'gup', pin: false, write: false }, `field 'walker' must be "gupFast" or "pteOffsetMap", got "gup"`],
    ['no kind', { mm: 0 }, 'ops[0]: missing op kind; valid kinds: map, populate'],
    ['not an object', 7, 'ops[0]: an op must be an object, got 7'],
    ['a field on an op that has none', { kind: 'drain', now: true }, "ops[0] (drain): unexpected field(s) now; a drain op has only 'kind'"],
  ])('refuse an op with %s in one precise line', (_name, op, message) => {
    const p = problem(file([op]));
    expect(p).toContain(message);
    expect(p).not.toContain('\n');
  });

  it.each([
    ['an extra top-level field', { ...file([]), comment: 'hi' }, 'unexpected field(s) comment; valid fields: format, kernel, kernelSpec, geometry, seed, path, status, ops, violation'],
    ['an unknown geometry', { ...file([]), geometry: 'huge' }, `'geometry' must be "small" or "realistic", got "huge"`],
    ['a seed that is a string', { ...file([]), seed: '1' }, `'seed' must be an integer, got "1"`],
    ['a violation without a step', { ...file([]), violation: { code: 'x' } }, "'violation.step' must be an integer, but it is missing"],
    ['an unknown status', { ...file([]), status: 'done' }, `'status' must be "found" or "shrunk", got "done"`],
    ['an op list for a file', [{ kind: 'tick' }], 'the top level must be an object, got an array'],
    ['an op list for a violation', { ...file([]), violation: [] }, "'violation' must be an object, got an array"],
  ])('refuse a counterexample with %s, naming the field and what is valid', (_name, data, message) => {
    expect(problem(data)).toBe(message);
  });

  it('count the problems after the first', () => {
    expect(problem({ ...file([{ kind: 'fork' }, { kind: 'exit' }]) })).toBe("ops[0] (fork): field 'mm' must be an integer, but it is missing (and 1 more problem)");
  });
});
