/**
 * An error caused by the user's input or environment (bad config, missing input, unknown
 * command, wrong password). Entry points print only the message (and the hint) and exit
 * non-zero; anything else is a bug and gets a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A problem at a known place in a config file: `pallet.yml:7:5 build.wheelhouse.requirements: ...` */
export class ConfigError extends UserError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly key: string,
    readonly detail: string,
    hint?: string,
  ) {
    super(`${file}:${line}:${column} ${key ? key + ': ' : ''}${detail}`, hint);
    this.name = 'ConfigError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
