import type { Generation, GenerationMode } from '../check/generation';
import { DEFAULT_MODE, GENERATION_MODES } from '../check/generation';
import { FOCUS_AREAS, FocusError, parseFocus, parseWeights } from '../arbitraries/focus';
import { GENERATED_KINDS } from '../arbitraries/profile';
import { UsageError } from './usageError';

export const MODE_HELP = `how sequences are drawn: ${GENERATION_MODES.join(' | ')} (default ${DEFAULT_MODE}; docs/reach.md)`;
export const FOCUS_HELP = `spend the runs where a patch is: comma-separated op kinds or areas (${Object.keys(FOCUS_AREAS).join(', ')})`;
export const WEIGHTS_HELP = 'per op kind, the weight of its ops: kind=n,... (0 leaves the kind out)';

export function parseMode(v: string, flag = '--mode'): GenerationMode {
  if (!(GENERATION_MODES as readonly string[]).includes(v)) throw new UsageError(`${flag} takes one of ${GENERATION_MODES.join(', ')}, got '${v}'`);
  return v as GenerationMode;
}

/** The comma list of a --focus or --weights flag, split; empty items dropped. */
const list = (v: string | undefined): string[] => (v === undefined ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== ''));

/**
 * The check's generation from its flags and the variant's declared focus (merged: a review
 * names the patch's ops once, in the variant, and may add more on the command line).
 */
export function parseGeneration(o: { mode?: string; guided?: boolean; focus?: string; weights?: string }, declaredFocus: readonly string[]): Generation {
  if (o.guided === true && o.mode !== undefined && o.mode !== 'guided') throw new UsageError(`--guided and --mode ${o.mode} disagree; give one of them`);
  const mode = o.guided === true ? 'guided' : o.mode === undefined ? DEFAULT_MODE : parseMode(o.mode);
  const focus = [...new Set([...declaredFocus, ...list(o.focus)])];
  try {
    parseFocus(focus);
    const weights = o.weights === undefined ? {} : parseWeights(o.weights);
    if (o.weights !== undefined && Object.keys(weights).length === 0) throw new FocusError(`--weights is empty; write kind=n,...`);
    if (GENERATED_KINDS.every((k) => weights[k] === 0)) throw new FocusError(`--weights leaves every op kind out; give at least one of ${GENERATED_KINDS.join(', ')} a weight above 0`);
    return { mode, focus, weights };
  } catch (e) {
    if (e instanceof FocusError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--modes a,b`: distinct modes, in the order given. */
export function parseModes(v: string): GenerationMode[] {
  const modes = [...new Set(list(v).map((m) => parseMode(m, '--modes')))];
  if (modes.length === 0) throw new UsageError(`--modes takes one or more of ${GENERATION_MODES.join(', ')}, comma-separated`);
  return modes;
}
