// Seeded generator of hostile strings for the injection tests: shell metacharacters, quotes,
// command substitution, newlines, globs, unicode (RTL override, emoji, combining marks) and
// leading dashes. NUL is excluded (argv cannot carry it; shellQuote refuses it).

/** mulberry32: tiny, fast, good enough to make the same 1000 strings on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PIECES = [
  "'", '"', '$(', ')', '`', '\n', '\r', '\t', ' ', '\\', ';', '|', '&', '&&', '<', '>', '>>', '*', '?', '[', ']', '{a,b}', '~', '~root',
  '!', '!!', '#', '$', '$HOME', '${IFS}', '$1', '$@', '%s', '%', '=', '-', '--', '-rf', "'\\''", '\\n', '\\0', 'a', 'Z', '0', '9', '.', '/',
  '..', 'é', 'ü', 'ß', '漢字', 'א', 'עברית', 'عربي', '\u202e', '\u200f', '\u200b', '😀', '👩‍💻', 'e\u0301', '\u00a0', '\x01', '\x1b[31m', '\x7f',
];

/** One hostile string: 1-14 random pieces, sometimes a random BMP code point, sometimes a leading dash. */
export function hostileString(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 14);
  let s = rand() < 0.2 ? '-' : '';
  for (let i = 0; i < n; i++) {
    if (rand() < 0.1) {
      let cp = 1 + Math.floor(rand() * 0xfffe);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x263a; // no lone surrogates: they are not text
      s += String.fromCodePoint(cp);
    } else s += PIECES[Math.floor(rand() * PIECES.length)];
  }
  return s;
}

export function hostileStrings(count: number, seed = 20240611): string[] {
  const rand = prng(seed);
  // Distinct strings: a repeated one proves nothing new.
  const out = new Set<string>(['', ' ', "'", '-', '--', '$(reboot)', '`reboot`', 'a\nb', '\\', '*']);
  while (out.size < count) out.add(hostileString(rand));
  return [...out].slice(0, count);
}
