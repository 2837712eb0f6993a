import { pathToFileURL } from 'node:url';
import { UsageError } from '../cli/usageError';
import { firstLineOf, messageLocation, stackLocationIn, stripAnsi } from './errorLocation';

/**
 * Why a transform (syntax) error failed, from a loader's multi-line message: esbuild's
 * `…: ERROR: reason` if there, else the first line that is neither the banner nor the location.
 */
function syntaxReason(message: string): string {
  const lines = stripAnsi(message).split('\n').map((l) => l.trim());
  for (const l of lines) {
    const esbuild = /: ERROR: (.*)$/.exec(l);
    if (esbuild !== null) return esbuild[1]!;
  }
  return lines.find((l) => l !== '' && !/^Transform failed/.test(l) && !/:\d+:\d+/.test(l)) ?? 'syntax error';
}

/** One line saying why importing the variant failed, with its file and line where the loader gave one. */
export function describeImportError(file: string, err: unknown, what = 'variant'): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/^Transform failed/.test(stripAnsi(message))) {
    const loc = messageLocation(message, process.cwd());
    const where = loc === null ? file : `${loc.file}:${loc.line}:${loc.column}`;
    return `${what} ${where}: syntax error: ${syntaxReason(message)}`;
  }
  // Thrown while the module body ran (a top-level statement): the stack says where.
  const at = stackLocationIn(err, file);
  if (at !== null) return `${what} ${file}:${at.line}: threw while loading: ${firstLineOf(err)}`;
  return `cannot load ${what} ${file}: ${firstLineOf(err)}`;
}

/** Import the variant module; a failure becomes a UsageError naming the file and, if known, the line. */
export async function importVariant(file: string, what = 'variant'): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(describeImportError(file, e, what));
  }
}
