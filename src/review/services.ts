// A review app's services on its host: the generated passwords (kept in a 0600 file there, read
// back on the next deploy, masked the moment they are read or made), each service's env file
// (0600, from stdin), its image, and its container up and ready. Returns what the app is given to
// reach them (DATABASE_URL, ...), which the deploy writes into the release's env file.
import { reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { UserError } from '../errors.js';
import { StepError } from '../deploy/types.js';
import { ensureImageOnHost, type RegistryLogin } from '../deploy/pull.js';
import { appNetwork } from '../deploy/proxy/commands.js';
import type { HostConnection } from '../ssh/connection.js';
import type { CleanupLedger } from '../util/cleanup.js';
import type { ReviewConfig } from '../config/types.js';
import { newPassword, passwordNames, planReviewServices } from './plan.js';
import { ensureNetworkArgv, parseKeyValues, pulledImagesPath, readPrivateFileArgv, recordPulledArgv, reviewCredentialsPath, serviceEnvPath, serviceUpArgv, writePrivateFileArgv } from './commands.js';

/** `NAME=VALUE` lines for an env file (docker's --env-file format: one per line, no quoting). */
function envLines(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/**
 * Starts (or keeps) review app `app`'s services (of app `base`) on `conn` and waits until each is ready; an
 * image pulled for them is listed for removal with the last review app (pulledImagesPath). Throws a
 * UserError naming the service and what it (or its pull) printed. Returns the app's environment for them.
 */
export async function startReviewServices(conn: HostConnection, review: ReviewConfig, base: string, app: string, login: RegistryLogin | undefined, ledger: CleanupLedger): Promise<Record<string, string>> {
  if (!review.services.length) return {};
  const r = reporter();
  const file = reviewCredentialsPath(app);
  const kept = parseKeyValues((await conn.check(readPrivateFileArgv(file), 'reading the review services\' credentials')).stdout);
  const passwords: Record<string, string> = {};
  let made = false;
  for (const name of passwordNames(review)) {
    passwords[name] = kept[name] || newPassword();
    made ||= !kept[name];
    r.setSecret(passwords[name]);
  }
  if (made) await conn.check(writePrivateFileArgv(file), 'writing the review services\' credentials', { input: envLines(passwords) });
  const { services, appEnv } = planReviewServices(review, app, passwords);
  await conn.check(ensureNetworkArgv(appNetwork(app), app), 'creating the review app\'s network');
  await Promise.all(services.map(async (s) => {
    const envFile = serviceEnvPath(app, s.name);
    await conn.check(writePrivateFileArgv(envFile), `writing the env file of service ${s.name}`, { input: envLines(s.containerEnv) });
    const pulled = await ensureImageOnHost(ledger, conn, s.image, login, `the image of review service ${s.name}`, `set review.services' ${s.name} image to one the host can pull`)
      .catch((e: unknown) => { throw e instanceof StepError ? new UserError(e.message) : e; });
    if (pulled) await conn.check(recordPulledArgv(pulledImagesPath(base), s.image), 'recording the pulled service image');
    const up = await conn.run(serviceUpArgv({ container: s.container, image: s.image, network: appNetwork(app), alias: s.alias, envFile, review: app, readySeconds: s.readyTimeoutS, probe: s.probe }));
    if (up.exitCode !== 0) {
      const said = lastLines(up.stdout.replace(/^state=\w+\n/m, '') || up.stderr, 3) || `exit ${up.exitCode}`;
      throw new UserError(`${conn.name}: review service ${s.name} (${s.image}) did not start: ${said}`,
        up.exitCode === 5 ? `check its image and its readiness check (review.services' ${s.name}: ready.command runs inside its container; ready_timeout)` : 'check the image and its settings in review.services');
    }
    const state = /^state=(\w+)$/m.exec(up.stdout)?.[1] ?? 'up';
    r.info(`${conn.name}: service ${s.name} of ${app} ${state === 'kept' ? 'was running already' : state} (${s.image}), ready`);
  }));
  return appEnv;
}
