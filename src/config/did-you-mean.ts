// "did you mean 'dockerfile'?" for unknown keys: the closest known key by edit distance.

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("fiel" -> "file" = 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known key closest to `key`, if it is close enough to be a plausible typo. */
export function closestKey(key: string, known: string[]): string | undefined {
  const k = key.toLowerCase().replace(/-/g, '_');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(k, candidate.toLowerCase());
    if (d < bestDistance) { best = candidate; bestDistance = d; }
  }
  const allowed = Math.max(2, Math.floor(key.length / 3));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/** `unknown key; did you mean 'x'?` or `unknown key; expected one of a, b, c`. */
export function unknownKeyMessage(key: string, known: string[]): string {
  const guess = closestKey(key, known);
  if (guess) return `unknown key; did you mean '${guess}'?`;
  return known.length ? `unknown key; expected one of ${known.join(', ')}` : 'unknown key';
}
