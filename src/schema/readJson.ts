import { readFileSync } from 'node:fs';

/**
 * Read a JSON file the way mmcheck reads every input file: as UTF-8, with a leading byte-order
 * mark allowed (Windows editors add one, and JSON.parse refuses it). Problems go to `fail` as one
 * line, so each caller raises its own error type.
 */
export function readJsonFile(file: string, what: string, fail: (message: string) => never): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`cannot read ${what} '${file}': ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (e) {
    return fail(`'${file}' is not valid JSON (truncated?): ${e instanceof Error ? e.message : String(e)}`);
  }
}
