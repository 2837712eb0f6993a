import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A place in a source file, 1-based, as compilers and stack traces print it. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Terminal colours some loaders put in their messages; they would end up in ours.
export const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');

/**
 * Where in `file` an error was thrown: the innermost stack frame in that file (by path or file
 * URL, as Node and tsx print them), or null when none of the frames is in it.
 */
export function stackLocationIn(err: unknown, file: string): SourceLocation | null {
  if (!(err instanceof Error) || err.stack === undefined) return null;
  const at = new RegExp(`(?:${escape(pathToFileURL(file).href)}|${escape(file)}):(\\d+):(\\d+)`);
  for (const line of err.stack.split('\n')) {
    const m = at.exec(line);
    if (m !== null) return { file, line: Number(m[1]), column: Number(m[2]) };
  }
  return null;
}

/**
 * The first `path.ts:line:col` in a compiler's message (esbuild under tsx prints
 * `/abs/v.ts:6:14: ERROR: …`, vite a path relative to its root), the path made absolute.
 */
export function messageLocation(message: string, cwd: string): SourceLocation | null {
  const m = /((?:[A-Za-z]:)?[^\s:[\]()"']+\.[cm]?[jt]sx?):(\d+):(\d+)/.exec(stripAnsi(message));
  if (m === null) return null;
  const file = m[1]!.startsWith('file://') ? new URL(m[1]!).pathname : m[1]!;
  return { file: isAbsolute(file) ? file : resolve(cwd, file), line: Number(m[2]), column: Number(m[3]) };
}

/** The first line of what was thrown, as `Error: boom` (name and message), for a one-line report. */
export function firstLineOf(err: unknown): string {
  const s = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return stripAnsi(s).split('\n').find((l) => l.trim() !== '') ?? s;
}
