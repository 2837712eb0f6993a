import type { PageObservation, StepObservation } from './observation';

/** The runtime reported an error of its own (a system call failed unexpectedly): no comparison is possible. */
export class RuntimeError extends Error {}

/** The runtime was stopped by Ctrl-C (SIGINT to the process group): an interruption, not a failure. */
export class RuntimeInterrupted extends RuntimeError {}

/**
 * Parse what the C runtime printed: `step S <result>` lines, `obs S mm<M> <vpn> key=value…`
 * lines (or `obs S mm<M> <vpn> swap`), `end S` after each observation, `error step S …` on a
 * failure of its own. The folio head is the frame aligned down to the folio size (the buddy
 * allocator aligns every folio naturally).
 */
export function parseKernelOutput(text: string): StepObservation[] {
  const steps = new Map<number, { results: string[]; pages: PageObservation[] }>();
  const at = (s: number): { results: string[]; pages: PageObservation[] } => {
    let e = steps.get(s);
    if (e === undefined) {
      e = { results: [], pages: [] };
      steps.set(s, e);
    }
    return e;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const words = line.split(' ');
    const step = Number(words[1]);
    switch (words[0]) {
      case 'step':
        at(step).results.push(words.slice(2).join(' '));
        break;
      case 'obs':
        at(step).pages.push(parsePage(line, words));
        break;
      case 'end':
        at(step);
        break;
      case 'error':
        throw new RuntimeError(line);
      default:
        throw new RuntimeError(`unexpected runtime output: ${line}`);
    }
  }
  return [...steps.entries()].sort((a, b) => a[0] - b[0]).map(([step, e]) => ({ step, results: e.results, pages: e.pages }));
}

function parsePage(line: string, words: readonly string[]): PageObservation {
  const mm = Number((words[2] ?? '').replace(/^mm/, ''));
  const vpn = Number(words[3]);
  if (words[4] === 'swap') throw new RuntimeError(`a swap or migration entry where the model has none: ${line}`);
  const kv = new Map(words.slice(4).map((w) => w.split('=') as [string, string]));
  const num = (k: string): number => {
    const v = kv.get(k);
    if (v === undefined || !/^-?\d+$/.test(v)) throw new RuntimeError(`runtime output without ${k}=: ${line}`);
    return Number(v);
  };
  const pfn = num('pfn');
  const order = num('order');
  return {
    mm,
    vpn,
    pfn,
    head: kv.has('head') ? num('head') : pfn - (pfn % 2 ** order),
    mapcount: num('map'),
    exclusive: num('excl') === 1,
    thp: num('thp') === 1,
    order,
    zero: num('zero') === 1,
    value: num('val'),
  };
}
