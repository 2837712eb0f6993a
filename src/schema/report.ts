import { z } from 'zod';
import { GEOMETRY_NAMES } from '../../models/machine/geometry';
import { VERDICTS } from '../check/verdict';
import { GENERATION_MODES } from '../check/generation';
import { violationSchema } from './counterexample';
import { opSchema } from './op';

export const REPORT_FORMAT = 'mmcheck-report/1';

const count = z.int().nonnegative();
const counts = z.record(z.string(), count);

/** One test case of a command, as JUnit and TAP print it: a check, a mutant under one mode, a workload, a run. */
export const resultCaseSchema = z
  .strictObject({
    name: z.string(),
    status: z.enum(['pass', 'fail']),
    message: z.string().nullable().meta({ description: 'One line on why it failed; null when it passed.' }),
    details: z.array(z.string()).meta({ description: "The human report's lines for this case (a failure's counterexample trace, a survivor's row), without colours." }),
    elapsedMs: z.number().nonnegative(),
  })
  .meta({ description: 'One test case: what JUnit writes as a <testcase> and TAP as an ok / not ok line.' });
export type ResultCase = z.infer<typeof resultCaseSchema>;

const failureSchema = z.strictObject({
  kernel: z.string().meta({ description: 'The kernel in which the violation happened (the kernel under test or the reference).' }),
  violation: violationSchema,
  ops: z.array(opSchema),
  seed: z.int(),
  path: z.string().meta({ description: "fast-check's replay path ('' when unknown)." }),
  shrunk: z.boolean().meta({ description: 'False when shrinking was cut short (time budget, a hang): a shorter counterexample may exist.' }),
  file: z.string().nullable().meta({ description: 'Where the counterexample was saved (replay, explain), or null.' }),
});

const checkData = z.strictObject({
  kernel: z.string(),
  kernelSpec: z.string().meta({ description: 'What --kernel was given: a registered name or the absolute path of a variant file.' }),
  geometry: z.enum(GEOMETRY_NAMES),
  seed: z.int(),
  runs: count,
  jobs: count,
  maxOps: count,
  interleave: z.boolean(),
  generation: z.string().meta({ description: 'How sequences were drawn, as the human report says it.' }),
  verdict: z.enum(VERDICTS),
  sequences: count,
  steps: count,
  elapsedMs: z.number().nonnegative(),
  coverage: counts.meta({ description: 'Per coverage probe (a state worth reaching), the sequences that reached it; every reported probe is present, 0 when never reached.' }),
  methodCalls: counts.meta({ description: "Per method a variant defines: the generated sequences that called it. Empty for a registered kernel." }),
  unexecutedLines: z.array(z.strictObject({ line: z.int().positive(), text: z.string() })).meta({ description: "The variant's lines that never ran." }),
  failure: failureSchema.nullable().meta({ description: 'The shrunk failure (FAILED), the unreproducible one (FLAKY), or the hang; null otherwise.' }),
});

const runData = z.strictObject({
  file: z.string(),
  kernel: z.string(),
  geometry: z.enum(GEOMETRY_NAMES),
  ops: count,
  verdict: z.enum(['HOLDS', 'FAILED']),
  failure: z.strictObject({ kernel: z.string(), violation: violationSchema }).nullable(),
});

const mutantRow = z.strictObject({
  name: z.string(),
  kind: z.enum(['plain', 'race', 'rare']).meta({ description: "'race' mutants are checked with interleaved ops; 'rare' ones need a rare combination of states." }),
  mode: z.enum(GENERATION_MODES),
  killed: count.meta({ description: 'Seeds on which the mutant was caught.' }),
  seeds: count,
  oracles: z.array(z.string()).meta({ description: 'The violation codes that caught it.' }),
  unexpectedOracle: z.boolean().meta({ description: "A seed was caught by a code the mutant's header does not list." }),
  medianSequences: z.number().nonnegative().meta({ description: 'Median sequences to the first failure; a surviving seed counts as the whole budget.' }),
  medianShrunkOps: z.number().nonnegative().nullable().meta({ description: 'Median shrunk length of the kills (the mean of the middle two for an even count); null when none.' }),
  medianSeconds: z.number().nonnegative(),
  results: z.array(z.strictObject({ seed: z.int(), killed: z.boolean(), oracle: z.string().nullable(), sequences: count.nullable(), shrunkOps: count.nullable() })),
});

const mutantsData = z.strictObject({
  geometry: z.enum(GEOMETRY_NAMES),
  runs: count,
  maxOps: count,
  seeds: z.array(z.int()),
  modes: z.array(z.enum(GENERATION_MODES)),
  mutants: z.array(mutantRow),
});

const costData = z.strictObject({
  kernel: z.string(),
  geometry: z.enum(GEOMETRY_NAMES),
  workloads: z.array(
    z.strictObject({
      name: z.string(),
      clean: z.boolean().meta({ description: 'Both kernels ran every op without a violation and with the same results: the counters compare like with like.' }),
      counters: z.array(z.strictObject({ key: z.string(), label: z.string(), reference: count, kernel: count })),
    }),
  ),
});

const envelope = <C extends string, D extends z.ZodType>(command: C, data: D) =>
  z.strictObject({
    format: z.literal(REPORT_FORMAT),
    command: z.literal(command),
    exitCode: z.int().meta({ description: "The command's exit code (0 holds, 1 failed, 4 flaky, 5 not exercised, 130 interrupted)." }),
    elapsedMs: z.number().nonnegative(),
    tests: z.array(resultCaseSchema),
    data,
  });

/** What `--reporter json` prints for check, run, mutants and cost: one document, discriminated by `command`. */
export const reportSchema = z
  .discriminatedUnion('command', [envelope('check', checkData), envelope('run', runData), envelope('mutants', mutantsData), envelope('cost', costData)])
  .meta({ title: 'mmcheck report', description: 'The machine-readable result of mmcheck check, run, mutants or cost (--reporter json).' });
export type Report = z.infer<typeof reportSchema>;
export type CommandData<C extends Report['command']> = Extract<Report, { command: C }>['data'];
