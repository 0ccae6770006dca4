// Remote commands travel to the host as ONE string that the remote user's shell parses again.
// Every argument is single-quoted, so nothing in it (spaces, $, `, ;, newlines, quotes) is
// interpreted there: the remote program receives exactly the argv built here.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument for a POSIX shell. */
export function quoteArg(arg: string): string {
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  // Close the quote, emit an escaped quote, reopen: 'it'\''s'
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Turns an argument vector into one command line for a POSIX shell. */
export function shellQuote(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('shellQuote: empty command');
  for (const a of argv) {
    if (a.includes('\0')) throw new Error('shellQuote: NUL byte in argument');
  }
  return argv.map(quoteArg).join(' ');
}
