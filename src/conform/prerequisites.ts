import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { THP_DIR } from './thpSysfs';

/**
 * Why the real kernel cannot be run here, or null when it can: conform needs root (pagemap only
 * shows frame numbers to CAP_SYS_ADMIN; THP sizes are switched through sysfs), gcc, THP with
 * per-size (mTHP) controls, /proc/kpagecount and /proc/kpageflags, and io_uring for pins.
 */
export function whyNotRunnable(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: pagemap hides frame numbers and THP sysfs is read-only';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'no gcc on PATH';
  if (!existsSync(join(THP_DIR, 'hugepages-2048kB', 'enabled'))) return `no per-size THP controls in ${THP_DIR} (THP off, or a kernel before 6.8)`;
  for (const f of ['/proc/kpagecount', '/proc/kpageflags']) {
    try {
      accessSync(f, constants.R_OK);
    } catch {
      return `${f} is not readable`;
    }
  }
  const uring = '/proc/sys/kernel/io_uring_disabled';
  if (existsSync(uring) && readFileSync(uring, 'utf8').trim() !== '0') return `io_uring is disabled (${uring})`;
  return null;
}

/** NUMA nodes that have memory (migration through move_pages() needs two). */
export function numaNodesWithMemory(): number {
  const dir = '/sys/devices/system/node';
  if (!existsSync(dir)) return 1;
  const hasMemory = join(dir, 'has_memory');
  if (existsSync(hasMemory)) return nodeListSize(readFileSync(hasMemory, 'utf8').trim());
  return readdirSync(dir).filter((n) => /^node\d+$/.test(n)).length || 1;
}

/** Size of a kernel node list like "0-1,3". */
function nodeListSize(list: string): number {
  let n = 0;
  for (const part of list.split(',').filter((p) => p !== '')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - (a ?? 0) + 1;
  }
  return Math.max(1, n);
}
