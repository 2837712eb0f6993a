import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const THP_DIR = '/sys/kernel/mm/transparent_hugepage';

/** Every per-size `enabled` file of anonymous THP, with its current setting (the bracketed word). */
export type ThpSettings = ReadonlyMap<string, string>;

/** The current per-size settings (sizes without an `enabled` file, like 8kB for order 1, are absent). */
export function readThpSettings(dir: string = THP_DIR): ThpSettings {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const d of readdirSync(dir).filter((n) => n.startsWith('hugepages-')).sort()) {
    const file = join(dir, d, 'enabled');
    if (!existsSync(file)) continue;
    const m = /\[(\w+)\]/.exec(readFileSync(file, 'utf8'));
    if (m?.[1] !== undefined) out.set(file, m[1]);
  }
  return out;
}

/**
 * Put the settings back. The C runtime restores what it changed itself; this is the second line
 * of defence for a runtime that was killed (SIGKILL, a timeout) before it could.
 */
export function restoreThpSettings(saved: ThpSettings): string[] {
  const failed: string[] = [];
  for (const [file, value] of saved) {
    try {
      const now = /\[(\w+)\]/.exec(readFileSync(file, 'utf8'))?.[1];
      if (now !== value) writeFileSync(file, value);
    } catch {
      failed.push(file);
    }
  }
  return failed;
}
