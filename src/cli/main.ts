import range from 'lodash/range.js';
import { availableParallelism } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { KERNELS, roleDescription } from '../../models/registry';
import { checkCommand } from './checkCommand';
import { conformCommand, exportCommand } from './conformCommands';
import { EXIT_CODES } from '../check/verdict';
import { costCommand } from './costCommand';
import { loadKernel } from './loadKernel';
import { reportInternalError } from './internalError';
import { GEOMETRY_HELP, REPORTER_HELP, parseGeometry, parsePositiveInt, parseReporter, parseSeed } from './options';
import type { ReporterName } from '../results/reporters';
import { renderReport } from '../results/reporters';
import type { Report } from '../schema/report';
import { makeProgress } from './progress';
import { mutantsCommand } from './mutantsCommand';
import { explainCommand, HTML_MAX_STEPS, replayCommand } from './replayCommands';
import { runCommand } from './runCommand';
import { UsageError } from './usageError';
import { FOCUS_HELP, MODE_HELP, WEIGHTS_HELP, parseGeneration, parseModes } from './generationOptions';
import { DEFAULT_MODE, GENERATION_MODES } from '../check/generation';
import { checkWritableDir } from './writableDir';
import { NO_TYPECHECK_HELP } from '../variants/noTypecheck';
import { WORKLOADS } from '../cost/workloads/index';
import { SEEDS } from '../cost/workload';
import { writeNewVariant } from '../variants/newVariant';
import { resolveWorkloads } from '../cost/loadWorkload';
import { NeedsSourcesError, requireSources, runningFromBuild } from './sourceMode';
import { relative } from 'node:path';

const print = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** The human report's lines go to stdout only for the human reporter: a machine format is alone there. */
const humanPrint = (reporter: ReporterName): ((s: string) => void) => (reporter === 'human' ? print : () => {});

/** Print a machine reporter's document (nothing for the human one, which printed as it ran). */
function emit(reporter: ReporterName, report: Report): void {
  const doc = renderReport(reporter, report);
  if (doc !== null) process.stdout.write(doc);
}

/** The kernel `check` runs by default: the batched one once registered, else the reference. */
const defaultKernel = (): string => (KERNELS.some((k) => k.name === 'batched') ? 'batched' : 'reference');

function program(setExit: (code: number) => void): Command {
  const p = new Command('mmcheck')
    .description('Property-based checks of Linux MM batching optimizations against a per-page reference model.')
    .exitOverride()
    .showHelpAfterError('(run mmcheck --help for the commands)');

  p.command('check')
    .description('run random op sequences against a kernel with every oracle on; print a summary or the shrunk failure')
    .option('--kernel <name|file.ts>', `registered kernel (${KERNELS.map((k) => k.name).join(', ')}) or a variant file`, defaultKernel())
    .option('--runs <n>', 'sequences to run', '2000')
    .option('--seed <n>', 'random seed (default: derived from the clock, and printed)')
    .option('--geometry <name>', GEOMETRY_HELP, 'small')
    .option('--time <seconds>', 'stop generating new sequences after this long')
    .option('--max-ops <n>', 'longest sequence, in ops', '60')
    .option('--failures <dir>', 'where failing cases are saved', '.mmcheck/failures')
    .option('--quiet', 'no progress output')
    .option('--step-timeout <seconds>', 'an op running longer than this is reported as a hang (step_timeout)', '10')
    .option('--no-typecheck', NO_TYPECHECK_HELP)
    .option('--interleave', 'also generate schedule ops: zap, madvise, mprotect, fork, migration, reclaim, faults and GUP run as preempted kernel tasks with other ops in their windows (docs/concurrency.md)')
    .option('--mode <mode>', MODE_HELP)
    .option('--guided', 'the same as --mode guided: mutate a corpus of sequences that reached something new')
    .option('--focus <list>', FOCUS_HELP)
    .option('--weights <list>', WEIGHTS_HELP)
    .option('--jobs <n>', `worker threads running sequences side by side (${availableParallelism()} cores here); the same seed and --jobs give the same verdict and counterexample on any machine`, '1')
    .option('--reporter <name>', REPORTER_HELP, 'human')
    .action(async (o: { kernel: string; runs: string; seed?: string; geometry: string; time?: string; maxOps: string; failures: string; quiet?: boolean; stepTimeout: string; typecheck: boolean; interleave?: boolean; mode?: string; guided?: boolean; focus?: string; weights?: string; jobs: string; reporter: string }) => {
      const reporter = parseReporter(o.reporter);
      const geometry = parseGeometry(o.geometry);
      const runs = parsePositiveInt('--runs', o.runs);
      const jobs = parsePositiveInt('--jobs', o.jobs);
      const maxOps = parsePositiveInt('--max-ops', o.maxOps);
      const seed = o.seed === undefined ? Date.now() % 2 ** 31 : parseSeed(o.seed);
      const timeBudgetMs = o.time === undefined ? undefined : parsePositiveInt('--time', o.time) * 1000;
      const stepTimeoutMs = parsePositiveInt('--step-timeout', o.stepTimeout) * 1000;
      checkWritableDir('--failures', o.failures);
      // Flags first, so a bad one is refused before a variant is type-checked.
      parseGeneration(o, []);
      const kernel = await loadKernel(o.kernel, { typecheck: o.typecheck });
      const generation = parseGeneration(o, kernel.focus);
      // Ctrl-C stops the check's worker and prints the summary so far (bin/mmcheck.js then dies
      // by SIGINT, as shells expect); the handler lives only as long as the check.
      const interrupt = new AbortController();
      const onSigint = (): void => interrupt.abort();
      process.on('SIGINT', onSigint);
      try {
        const progress = makeProgress(process.stderr, o.quiet === true);
        const { verdict, report } = await checkCommand({ kernel, geometry, runs, jobs, seed, maxOps, timeBudgetMs, stepTimeoutMs, failureDir: o.failures, progress, watchMethods: kernel.watchMethods, variantFile: kernel.variant?.file ?? null, signal: interrupt.signal, interleave: o.interleave === true, generation, declaredFocus: kernel.focus }, humanPrint(reporter));
        emit(reporter, report);
        setExit(EXIT_CODES[verdict]);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });

  p.command('replay')
    .description('re-run a saved counterexample and report its violation (exit 1 while it fails, 0 once it passes)')
    .argument('<file>', 'a counterexample JSON file')
    .option('--kernel <name|file.ts>', 'replay against another kernel than the one recorded (e.g. your fixed variant)')
    .option('--step-timeout <seconds>', 'an op running longer than this is reported as a hang (step_timeout)', '10')
    .option('--no-typecheck', NO_TYPECHECK_HELP)
    .action(async (file: string, o: { kernel?: string; stepTimeout: string; typecheck: boolean }) => setExit(await replayCommand(file, o.kernel, parsePositiveInt('--step-timeout', o.stepTimeout) * 1000, print, { typecheck: o.typecheck })));

  p.command('explain')
    .description('per-step trace of a counterexample: the op, what each kernel changed, the first divergence or violation')
    .argument('<file>', 'a counterexample JSON file')
    .option('--kernel <name|file.ts>', 'explain against another kernel than the one recorded')
    .option('--html <out.html>', `also write a step-by-step HTML view (page tables, folios, TLBs per CPU, changes highlighted; the last ${HTML_MAX_STEPS} steps of a longer list)`)
    .option('--no-typecheck', NO_TYPECHECK_HELP)
    .action(async (file: string, o: { kernel?: string; html?: string; typecheck: boolean }) => setExit(await explainCommand(file, o.kernel, o.html, print, { typecheck: o.typecheck })));

  p.command('run')
    .description('run a hand-written op list (scenario file, JSON array of ops, or counterexample) once with every oracle; print the trace and HOLDS or FAILED')
    .argument('<file>', `a scenario ({"format": "mmcheck-scenario/1", "kernel"?, "geometry"?, "ops": [...]}), a JSON array of ops, or a counterexample`)
    .option('--kernel <name|file.ts>', `registered kernel (${KERNELS.map((k) => k.name).join(', ')}) or a variant file (default: the file's, else batched)`)
    .option('--geometry <name>', `${GEOMETRY_HELP} (default: the file's, else small)`)
    .option('--step-timeout <seconds>', 'an op running longer than this is reported as a hang (step_timeout)', '10')
    .option('--no-typecheck', NO_TYPECHECK_HELP)
    .option('--reporter <name>', REPORTER_HELP, 'human')
    .action(async (file: string, o: { kernel?: string; geometry?: string; stepTimeout: string; typecheck: boolean; reporter: string }) => {
      const reporter = parseReporter(o.reporter);
      const report = await runCommand(file, { ...o, stepTimeoutMs: parsePositiveInt('--step-timeout', o.stepTimeout) * 1000 }, humanPrint(reporter));
      emit(reporter, report);
      setExit(report.exitCode);
    });

  p.command('mutants')
    .description('kill matrix: run the standard properties on every registered mutant; exit 1 if one survives')
    .option('--runs <n>', 'budget: sequences per mutant and seed', '3000')
    .option('--seeds <n>', 'how many seeds per mutant (1..n)', '5')
    .option('--geometry <name>', GEOMETRY_HELP, 'small')
    .option('--max-ops <n>', 'longest sequence, in ops', '60')
    .option('--only <names...>', 'only these mutants')
    .option('--write-fixtures <dir>', "save each mutant's shortest counterexample there (properties/fixtures/mutants)")
    .option('--modes <list>', `generation modes to compare, comma-separated (${GENERATION_MODES.join(', ')}); the first decides the exit code`, DEFAULT_MODE)
    .option('--reporter <name>', REPORTER_HELP, 'human')
    .action((o: { runs: string; seeds: string; geometry: string; maxOps: string; only?: string[]; writeFixtures?: string; modes: string; reporter: string }) => {
      const reporter = parseReporter(o.reporter);
      const nSeeds = parsePositiveInt('--seeds', o.seeds);
      if (o.writeFixtures !== undefined) checkWritableDir('--write-fixtures', o.writeFixtures);
      const report = mutantsCommand(
          {
            geometry: parseGeometry(o.geometry),
            runs: parsePositiveInt('--runs', o.runs),
            maxOps: parsePositiveInt('--max-ops', o.maxOps),
            seeds: range(1, nSeeds + 1),
            only: o.only ?? [],
            fixturesDir: o.writeFixtures ?? null,
            modes: parseModes(o.modes),
          },
          humanPrint(reporter),
        );
      emit(reporter, report);
      setExit(report.exitCode);
    });

  p.command('cost')
    .description('kernel work (atomic ref updates, rmap calls, gather slots, TLB flushes, IPIs, RCU callbacks) on named workloads, kernel vs reference')
    .option('--kernel <name|file.ts>', `registered kernel (${KERNELS.map((k) => k.name).join(', ')}) or a variant file`, defaultKernel())
    .option('--workload <names...>', `workloads to run (default all): ${WORKLOADS.map((w) => w.name).join(', ')}, or a file exporting your own (a CostWorkload, e.g. variants/my-workload.ts)`)
    .option('--geometry <name>', GEOMETRY_HELP, 'realistic')
    .option('--no-typecheck', NO_TYPECHECK_HELP)
    .option('--reporter <name>', REPORTER_HELP, 'human')
    .action(async (o: { kernel: string; workload?: string[]; geometry: string; typecheck: boolean; reporter: string }) => {
      const reporter = parseReporter(o.reporter);
      const geometry = parseGeometry(o.geometry);
      const workloads = await resolveWorkloads(o.workload ?? [], o.typecheck);
      const kernel = await loadKernel(o.kernel, { typecheck: o.typecheck });
      const report = costCommand({ kernel, geometry, workloads }, humanPrint(reporter));
      emit(reporter, report);
      setExit(report.exitCode);
    });

  p.command('export-c')
    .description('write a scenario or counterexample (realistic geometry) as a C program for the real kernel, with the model\'s observables beside it')
    .argument('<file>', 'a scenario, a JSON array of ops, or a counterexample')
    .option('-o, --out <file.c>', 'where to write the program (default: beside the file, .c); the observables go to the same name with .expected')
    .option('--release <x.y>', 'the kernel version whose reference policy the model follows (default: the running kernel)')
    .option('--run', 'also build and run it here (root, gcc) and compare with the model')
    .action(async (file: string, o: { out?: string; release?: string; run?: boolean }) => setExit(await exportCommand(file, o, print)));

  p.command('conform')
    .description('random user programs run in the reference model and, as C, on this machine\'s kernel; the first difference is shrunk and saved')
    .option('--runs <n>', 'programs to run', '200')
    .option('--seed <n>', 'random seed (default: derived from the clock, and printed)')
    .option('--max-ops <n>', 'longest program, in ops', '20')
    .option('--out <dir>', 'where a difference is saved (program, C, report)', '.mmcheck/conform')
    .option('--quiet', 'no progress output')
    .action(async (o: { runs: string; seed?: string; maxOps: string; out: string; quiet?: boolean }) => {
      const runs = parsePositiveInt('--runs', o.runs);
      const maxOps = parsePositiveInt('--max-ops', o.maxOps);
      const seed = o.seed === undefined ? Date.now() % 2 ** 31 : parseSeed(o.seed);
      checkWritableDir('--out', o.out);
      setExit(await conformCommand({ runs, seed, maxOps, out: o.out, quiet: o.quiet === true }, print));
    });

  p.command('new-variant')
    .description('write a typed variant stub into variants/: a class extending a registered kernel that overrides the methods a patch changes')
    .argument('<name>', 'kebab-case name, e.g. my-patch: the file is <dir>/<name>.ts and the kernel runs as <name>')
    .option('--override <methods...>', 'the kernel methods the patch changes (docs/extension-points.md lists them)')
    .option('--base <kernel>', `the registered kernel it patches (${KERNELS.filter((k) => k.role !== 'mutant').map((k) => k.name).join(', ')})`, 'batched')
    .option('--dir <dir>', 'where to write it', 'variants')
    .action((name: string, o: { override?: string[]; base: string; dir: string }) => {
      requireSources('new-variant');
      if (o.override === undefined || o.override.length === 0) throw new UsageError('give the kernel methods the patch changes: --override <method>… (docs/extension-points.md lists them)');
      const file = relative(process.cwd(), writeNewVariant({ name, overrides: o.override, base: o.base, dir: o.dir }));
      print(`wrote ${file}: ${o.override.length} override${o.override.length > 1 ? 's' : ''} of ${o.base} that call the kernel's own; edit them into the patch`);
      print(`check it: npx mmcheck check --kernel ${file}`);
    });

  p.command('models')
    .description('list the registered kernels and mutants')
    .action(() => {
      for (const k of KERNELS) print(`${k.name.padEnd(32)} ${roleDescription(k.role).padEnd(33)} ${k.summary}`);
      print('');
      print('seeds: the patch discussions the summaries cite (docs/seeds.md):');
      for (const [id, title] of Object.entries(SEEDS)) print(`  seed ${id}  ${title}`);
    });

  p.addOption(new Option('--no-color', 'plain output'));
  p.option('--debug', 'on an internal error, print its stack trace too; at the end, say whether the CLI ran from its build or from the sources');
  return p;
}

/** Entry point: exit 0 when the property holds, 1 when it fails, 2 on usage errors, 3 on internal errors — never a stack trace for bad input. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const p = program((c) => {
    code = c;
  });
  try {
    await p.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    // The built CLI met a user's TypeScript file: bin/mmcheck.js runs the command again from the sources.
    if (e instanceof NeedsSourcesError) throw e;
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else if (e instanceof UsageError) {
      process.stderr.write(`mmcheck: ${e.message}\n`);
      code = 2;
    } else code = reportInternalError(e, p.opts<{ debug?: boolean }>().debug === true);
  }
  if (p.opts<{ debug?: boolean }>().debug === true) process.stderr.write(`mmcheck: ran from ${runningFromBuild() ? 'the build (dist/cli/cli.mjs)' : 'the sources (tsx)'}\n`);
  return code;
}
