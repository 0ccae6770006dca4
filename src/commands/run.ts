import type { CliArgs } from '../inputs.js';
import type { DispatchOptions } from './index.js';
import { UserError } from '../errors.js';

/** `pallet run -- cmd ...`: a host command with the cleanroom services provided. */
export async function runHostCommand(_args: CliArgs, _opts: DispatchOptions): Promise<number> {
  throw new UserError('pallet run is not implemented yet');
}
