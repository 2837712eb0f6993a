import cliProgress from 'cli-progress';

/** Progress for long runs: a bar on a terminal, a plain line every 10% otherwise. */
export interface Progress {
  start(total: number): void;
  update(done: number): void;
  note(message: string): void;
  stop(): void;
}

export function makeProgress(stream: NodeJS.WritableStream & { readonly isTTY?: boolean }, quiet: boolean): Progress {
  if (quiet) return { start() {}, update() {}, note() {}, stop() {} };
  if (stream.isTTY) {
    // The bar changes no terminal mode: no hidden cursor, no autowrap off (it trims itself to the
    // width instead). Ctrl-C is answered (the check runs in a worker) and stops the bar, but a
    // SIGTERM or SIGKILL is not: a mode left changed would outlive the process.
    const bar = new cliProgress.SingleBar({ format: '  {bar} {value}/{total} sequences {note}', stream, hideCursor: false, linewrap: true }, cliProgress.Presets.shades_classic);
    return {
      start: (total) => bar.start(total, 0, { note: '' }),
      update: (done) => bar.update(done),
      note: (message) => bar.update({ note: message }),
      stop: () => bar.stop(),
    };
  }
  let total = 0;
  let nextReport = 0;
  return {
    start: (t) => {
      total = t;
      nextReport = Math.ceil(t / 10);
    },
    update: (done) => {
      if (done >= nextReport && done < total) {
        stream.write(`  … ${done}/${total} sequences\n`);
        nextReport += Math.ceil(total / 10);
      }
    },
    note: (message) => stream.write(`  ${message}\n`),
    stop: () => {},
  };
}
