/**
 * `mmcheck models | head -1`: the reader went away, which is no error of mmcheck's. Without a
 * listener the EPIPE is an unhandled 'error' event — a stack trace and exit 1, which reads as
 * "a failure was found". With this one the stream just stops taking output (writes to a destroyed
 * stream are dropped) and the command ends with its own exit code: the verdict stands, and a
 * found counterexample is on disk, since it is saved before it is printed.
 */
export function ignoreClosedOutput(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
}
