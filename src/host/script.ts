// The one shape of a remote shell command: `sh -c BODY pallet-NAME ARG...`. BODY is a constant
// of this code base; data (tags, names, paths, JSON) only ever travels as the positional
// arguments $1..$n and is never spliced into it. $0 names the command, so a process list, sh's
// own error messages and the fake host of the unit tests all see which command it is.

/** The prefix of every command name ($0). */
export const SCRIPT_PREFIX = 'pallet-';

/**
 * argv of the named script with its arguments: `['sh', '-c', body, 'pallet-' + name, ...args]`.
 * `name` is lower-case words joined by '-' (e.g. `read-state`).
 */
export function remoteScript(name: string, body: string, ...args: string[]): string[] {
  return ['sh', '-c', body, `${SCRIPT_PREFIX}${name}`, ...args];
}

/** Pure: the script name of an argv built by remoteScript (`read-state`), else undefined. */
export function scriptName(argv: readonly string[]): string | undefined {
  if (argv[0] !== 'sh' || argv[1] !== '-c' || !argv[3]?.startsWith(SCRIPT_PREFIX)) return undefined;
  return argv[3].slice(SCRIPT_PREFIX.length);
}
