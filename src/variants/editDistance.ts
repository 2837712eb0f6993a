/**
 * Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
 * two adjacent characters each cost 1. Transpositions count once because `zapPresnetPtes` is one
 * slip of the fingers, not two.
 */
export function editDistance(a: string, b: string): number {
  // d[i][j] = distance between a's first i and b's first j characters, kept as three rows.
  let before: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      cur.push(d);
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}
