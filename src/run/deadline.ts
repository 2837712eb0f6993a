/**
 * Whether a run with this deadline (ms since the epoch; +∞ for none) stops before step `i`:
 * `--time` is honoured inside a long sequence, which is cut rather than finished. The first step
 * always runs, so a run makes progress.
 */
export const pastDeadline = (deadline: number, i: number): boolean => deadline !== Number.POSITIVE_INFINITY && i > 0 && Date.now() >= deadline;
