import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { makeProgress } from '../src/cli/progress';

const root = join(import.meta.dirname, '..');

/** True when `out` switched a terminal mode off (`\x1b[?<mode>l`) and did not switch it back on. */
const leftOff = (out: string, mode: number): boolean => out.lastIndexOf(`\x1b[?${mode}l`) > out.lastIndexOf(`\x1b[?${mode}h`);

/** A terminal that only records what is written to it. */
class RecordingTty extends Writable {
  readonly isTTY = true;
  readonly columns = 80;
  written = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.written += chunk.toString();
    done();
  }
}

// util-linux's script(1) gives the child a real terminal; writing ^C to it is a real Ctrl-C.
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux') === true;

describe('Ctrl-C during check on a terminal', () => {
  it('the progress bar switches no terminal mode off, so being killed mid-run leaves none off', () => {
    const tty = new RecordingTty();
    const progress = makeProgress(tty, false);
    progress.start(100);
    // (no stop(): a process killed by SIGINT during the synchronous check never gets to it)
    expect(tty.written).toContain('0/100 sequences');
    expect(leftOff(tty.written, 25)).toBe(false); // cursor hidden
    expect(leftOff(tty.written, 7)).toBe(false); // autowrap off
    progress.stop();
  });

  it.skipIf(!hasScript)('interrupts at once and leaves the cursor visible and autowrap on', async () => {
    const cmd = `exec '${process.execPath}' bin/mmcheck.js check --kernel reference --runs 1000000 --failures '${mkdtempSync(join(tmpdir(), 'mmcheck-tty-'))}'`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (!interrupted && out.includes(' sequences')) {
        interrupted = true;
        child.stdin.write('\x03'); // the bar is up: the check is running
      }
    });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(interrupted).toBe(true);
    expect(code).toBe(130); // died of the SIGINT (128 + 2), rather than running on to the end
    expect(leftOff(out, 25)).toBe(false);
    expect(leftOff(out, 7)).toBe(false);
  });
});
