// Pure: what to tell a user whose registry request went out without (valid) credentials. Docker
// says "no basic auth credentials" (push, no login) or "unauthorized: authentication required"
// (pull, login or push with none or wrong ones) and nothing about where credentials come from.
// One place for that hint: the hosts' pull and login (deploy), the push, the local engine's pulls.

/** Where registry credentials come from, in the action and on the command line. */
export const REGISTRY_CREDENTIALS =
  'set the registry-username and registry-password inputs (action), or --registry-username with --registry-password-file PATH or PALLET_REGISTRY_PASSWORD (CLI)';

const NO_CREDENTIALS = /no basic auth credentials|unauthorized: authentication required/i;

/**
 * The hint for pull, push or login output that says the registry wanted credentials it did not get,
 * else undefined. `given`: whether a user name was given (then it is the credentials that are wrong).
 */
export function registryAuthHint(output: string, given = false): string | undefined {
  if (!NO_CREDENTIALS.test(output)) return undefined;
  return given
    ? `the registry refused the credentials given: check that the registry-username / registry-password (CLI: --registry-username, --registry-password-file) account may use this image`
    : `the registry wants credentials and none were given: ${REGISTRY_CREDENTIALS}`;
}

/** `detail` with the hint appended as a `hint:` line when registryAuthHint has one (else unchanged). */
export function withRegistryAuthHint(detail: string, given = false): string {
  const hint = registryAuthHint(detail, given);
  return hint ? `${detail}\n  hint: ${hint}` : detail;
}
