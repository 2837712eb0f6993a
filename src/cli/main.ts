import { Command, CommanderError, Option } from 'commander';
import { KERNELS } from '../../models/registry';
import { checkCommand } from './checkCommand';
import { costCommand } from './costCommand';
import { loadKernel } from './loadKernel';
import { GEOMETRY_HELP, parseGeometry, parsePositiveInt, parseSeed } from './options';
import { makeProgress } from './progress';
import { mutantsCommand } from './mutantsCommand';
import { explainCommand, HTML_MAX_STEPS, replayCommand } from './replayCommands';
import { runCommand } from './runCommand';
import { UsageError } from './usageError';
import { WORKLOADS } from '../cost/workloads/index';

const print = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

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
    .action(async (o: { kernel: string; runs: string; seed?: string; geometry: string; time?: string; maxOps: string; failures: string; quiet?: boolean }) => {
      const geometry = parseGeometry(o.geometry);
      const runs = parsePositiveInt('--runs', o.runs);
      const maxOps = parsePositiveInt('--max-ops', o.maxOps);
      const seed = o.seed === undefined ? Date.now() % 2 ** 31 : parseSeed(o.seed);
      const timeBudgetMs = o.time === undefined ? undefined : parsePositiveInt('--time', o.time) * 1000;
      const kernel = await loadKernel(o.kernel);
      setExit(checkCommand({ kernel, geometry, runs, seed, maxOps, timeBudgetMs, failureDir: o.failures, progress: makeProgress(process.stderr, o.quiet === true) }, print));
    });

  p.command('replay')
    .description('re-run a saved counterexample and report its violation (exit 1 while it fails, 0 once it passes)')
    .argument('<file>', 'a counterexample JSON file')
    .option('--kernel <name|file.ts>', 'replay against another kernel than the one recorded (e.g. your fixed variant)')
    .action(async (file: string, o: { kernel?: string }) => setExit(await replayCommand(file, o.kernel, print)));

  p.command('explain')
    .description('per-step trace of a counterexample: the op, what each kernel changed, the first divergence or violation')
    .argument('<file>', 'a counterexample JSON file')
    .option('--kernel <name|file.ts>', 'explain against another kernel than the one recorded')
    .option('--html <out.html>', `also write a step-by-step HTML view (page tables, folios, TLBs per CPU, changes highlighted; the last ${HTML_MAX_STEPS} steps of a longer list)`)
    .action(async (file: string, o: { kernel?: string; html?: string }) => setExit(await explainCommand(file, o.kernel, o.html, print)));

  p.command('run')
    .description('run a hand-written op list (scenario file, JSON array of ops, or counterexample) once with every oracle; print the trace and HOLDS or FAILED')
    .argument('<file>', `a scenario ({"format": "mmcheck-scenario/1", "kernel"?, "geometry"?, "ops": [...]}), a JSON array of ops, or a counterexample`)
    .option('--kernel <name|file.ts>', `registered kernel (${KERNELS.map((k) => k.name).join(', ')}) or a variant file (default: the file's, else batched)`)
    .option('--geometry <name>', `${GEOMETRY_HELP} (default: the file's, else small)`)
    .action(async (file: string, o: { kernel?: string; geometry?: string }) => setExit(await runCommand(file, o, print)));

  p.command('mutants')
    .description('kill matrix: run the standard properties on every registered mutant; exit 1 if one survives')
    .option('--runs <n>', 'budget: sequences per mutant and seed', '3000')
    .option('--seeds <n>', 'how many seeds per mutant (1..n)', '5')
    .option('--geometry <name>', GEOMETRY_HELP, 'small')
    .option('--max-ops <n>', 'longest sequence, in ops', '60')
    .option('--only <names...>', 'only these mutants')
    .option('--write-fixtures <dir>', "save each mutant's shortest counterexample there (properties/fixtures/mutants)")
    .action((o: { runs: string; seeds: string; geometry: string; maxOps: string; only?: string[]; writeFixtures?: string }) => {
      const nSeeds = parsePositiveInt('--seeds', o.seeds);
      setExit(
        mutantsCommand(
          {
            geometry: parseGeometry(o.geometry),
            runs: parsePositiveInt('--runs', o.runs),
            maxOps: parsePositiveInt('--max-ops', o.maxOps),
            seeds: Array.from({ length: nSeeds }, (_, i) => i + 1),
            only: o.only ?? [],
            fixturesDir: o.writeFixtures ?? null,
          },
          print,
        ),
      );
    });

  p.command('cost')
    .description('kernel work (atomic ref updates, rmap calls, gather slots, TLB flushes, IPIs, RCU callbacks) on named workloads, kernel vs reference')
    .option('--kernel <name|file.ts>', `registered kernel (${KERNELS.map((k) => k.name).join(', ')}) or a variant file`, defaultKernel())
    .option('--workload <names...>', `workloads to run (default all): ${WORKLOADS.map((w) => w.name).join(', ')}`)
    .option('--geometry <name>', GEOMETRY_HELP, 'realistic')
    .action(async (o: { kernel: string; workload?: string[]; geometry: string }) => {
      const geometry = parseGeometry(o.geometry);
      const kernel = await loadKernel(o.kernel);
      setExit(costCommand({ kernel, geometry, workloads: o.workload ?? [] }, print));
    });

  p.command('models')
    .description('list the registered kernels and mutants')
    .action(() => {
      for (const k of KERNELS) print(`${k.name.padEnd(32)} ${k.role.padEnd(7)} ${k.summary}`);
    });

  p.addOption(new Option('--no-color', 'plain output'));
  return p;
}

/** Entry point: exit 0 when the property holds, 1 when it fails, 2 on usage errors — never a stack trace for bad input. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const p = program((c) => {
    code = c;
  });
  try {
    await p.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      process.stderr.write(`mmcheck: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop() ?? '');
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`mmcheck: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 3;
    },
  );
}
