// Checks the schema cannot express: image and host syntax, variable names, duplicates, custom
// services, paths that must exist, and deploy options the target does not honour
// (src/engine/capabilities.ts). Each check reads the plain parsed value defensively (the schema
// may already have reported a wrong type there) and returns Problems with key paths.
import { isTimeZone, scheduleProblem } from '../cron/schedule.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { CATALOG_SERVICE_NAMES, isCatalogService } from './services.js';
import { CATALOG } from '../cleanroom/catalog.js';
import { closestKey } from './did-you-mean.js';
import type { KeyPath, Problem } from './problems.js';
import { requirementFileProblems } from './build-files.js';
import { hostKey, imageReferenceProblem, imageRepositoryProblem, parseHostAddress, TAG_PATTERN } from './references.js';
import { targetOf, unsupportedOptions } from '../engine/capabilities.js';

type Obj = Record<string, unknown>;

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Service images read settings like `discovery.type` (Elasticsearch, OpenSearch) from the environment.
export const SERVICE_ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const ROLE_NAME = /^[a-z][a-z0-9_-]*$/;

/** Signals a container can be asked to stop with (Linux names, as `docker run --stop-signal` takes them). */
export const STOP_SIGNALS = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGABRT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM',
  'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGWINCH', 'SIGPWR', 'SIGXCPU', 'SIGIO', 'SIGURG', 'SIGVTALRM', 'SIGPROF', 'SIGXFSZ', 'SIGTTIN', 'SIGTTOU',
] as const;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface CheckContext {
  /** Directory of the config file: relative paths resolve against it. */
  dir: string;
  /** Shows a path in messages (relative to the cwd, like the file name). */
  show: (absolute: string) => string;
  /** Keys whose file value is replaced by an override and so is not checked. */
  overridden: Set<string>;
}

function envNames(v: unknown, at: KeyPath, out: Problem[], pattern = ENV_NAME): void {
  if (!isObj(v)) return;
  const allowed = pattern === ENV_NAME ? 'letters, digits and _' : 'letters, digits, _ and .';
  for (const name of Object.keys(v)) {
    if (!pattern.test(name)) out.push({ path: [...at, name], message: `invalid variable name; use ${allowed}, not starting with a digit` });
  }
}

/** A relative path that stays inside `base` (for things that must be inside the build context). */
function escapes(rel: string): boolean {
  return path.isAbsolute(rel) || rel.split(/[\\/]/)[0] === '..' || path.normalize(rel).startsWith('..');
}

function checkImage(cfg: Obj, ctx: CheckContext, out: Problem[]): void {
  if (isStr(cfg.image) && cfg.image !== '' && !ctx.overridden.has('image')) {
    const problem = imageRepositoryProblem(cfg.image);
    if (problem) out.push({ path: ['image'], message: problem });
  }
}

function checkBuild(build: unknown, ctx: CheckContext, out: Problem[]): void {
  const b = isObj(build) ? build : {};
  const contextRel = isStr(b.context) && b.context !== '' ? b.context : '.';
  const context = path.resolve(ctx.dir, contextRel);
  const contextOk = existsSync(context) && statSync(context).isDirectory();
  if (!contextOk) {
    out.push({
      path: isStr(b.context) ? ['build', 'context'] : ['build'],
      message: existsSync(context) ? `'${ctx.show(context)}' is not a directory` : `directory '${ctx.show(context)}' not found`,
    });
  }
  if (isStr(b.dockerfile) && b.dockerfile !== '' && escapes(b.dockerfile)) {
    out.push({ path: ['build', 'dockerfile'], message: 'must be a relative path inside the build context' });
  }
  envNames(b.args, ['build', 'args'], out);
  items(b.tags).forEach((t, i) => {
    if (isStr(t) && t !== '' && !TAG_PATTERN.test(t)) {
      out.push({ path: ['build', 'tags', i], message: `'${t}' is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)` });
    }
  });
  if (!isObj(b.wheelhouse)) return;
  const w = b.wheelhouse;
  if (isStr(w.builder) && w.builder !== '') {
    const problem = imageReferenceProblem(w.builder);
    if (problem) out.push({ path: ['build', 'wheelhouse', 'builder'], message: problem });
  }
  if (isStr(w.dir) && w.dir !== '' && (escapes(w.dir) || path.normalize(w.dir) === '.')) {
    out.push({ path: ['build', 'wheelhouse', 'dir'], message: 'must be a relative path to a directory inside the build context' });
  }
  out.push(...requirementFileProblems(w, context, contextOk, ctx));
}

function checkService(s: unknown, at: KeyPath, out: Problem[]): string | undefined {
  if (isStr(s)) {
    if (s !== '' && !isCatalogService(s)) {
      const guess = closestKey(s, [...CATALOG_SERVICE_NAMES]);
      if (guess) out.push({ path: at, message: `unknown service '${s}'; did you mean '${guess}'?` });
      else out.push({ path: at, message: `unknown service '${s}'; use one of ${CATALOG_SERVICE_NAMES.join(', ')}, or a mapping {name, image, port} for a custom service` });
    }
    return s;
  }
  if (!isObj(s)) return undefined;
  const name = isStr(s.name) ? s.name : undefined;
  if (name !== undefined && !isCatalogService(name)) {
    if (s.image === undefined) out.push({ path: [...at, 'image'], message: `required for the custom service '${name}' (not in the catalog)`, at: 'parent' });
    if (s.port === undefined) out.push({ path: [...at, 'port'], message: `required for the custom service '${name}' (not in the catalog)`, at: 'parent' });
  }
  if (isStr(s.image) && s.image !== '') {
    const problem = imageReferenceProblem(s.image);
    if (problem) out.push({ path: [...at, 'image'], message: problem });
  }
  envNames(s.env, [...at, 'env'], out, SERVICE_ENV_NAME);
  return name;
}

function checkTest(test: unknown, out: Problem[]): void {
  if (!isObj(test)) return;
  const seen = new Map<string, number>();
  items(test.services).forEach((s, i) => {
    const name = checkService(s, ['test', 'services', i], out);
    if (name === undefined || name === '') return;
    const first = seen.get(name);
    if (first !== undefined) {
      out.push({ path: ['test', 'services', i], message: `service '${name}' is listed twice (also test.services[${first}]); give each a distinct name` });
    } else {
      seen.set(name, i);
    }
  });
  envNames(test.environment, ['test', 'environment'], out);
  items(test.artifacts).forEach((a, i) => {
    if (isStr(a) && a !== '' && !a.startsWith('/')) out.push({ path: ['test', 'artifacts', i], message: 'must be an absolute path inside the test container' });
  });
}

function checkHost(h: unknown, at: KeyPath, out: Problem[]) {
  if (!isStr(h)) return undefined;
  const parsed = parseHostAddress(h);
  if (typeof parsed === 'string') {
    out.push({ path: at, message: `invalid host '${h}': ${parsed}; expected [user@]host[:port]` });
    return undefined;
  }
  return parsed;
}

function checkStopSignal(v: unknown, at: KeyPath, out: Problem[]): void {
  if (!isStr(v) || !/^(SIG)?[A-Z][A-Z0-9]*$/.test(v)) return; // the schema reports the shape
  const name = v.startsWith('SIG') ? v : `SIG${v}`;
  if ((STOP_SIGNALS as readonly string[]).includes(name)) return;
  const guess = closestKey(name, [...STOP_SIGNALS]);
  out.push({ path: at, message: `unknown signal '${v}'${guess ? `; did you mean '${guess}'?` : `; use one of ${STOP_SIGNALS.join(', ')}`}` });
}

function checkProxy(proxy: unknown, out: Problem[]): void {
  if (!isObj(proxy)) return;
  const hosts = items(proxy.hosts);
  if ((proxy.tls === 'auto' || proxy.tls === 'internal') && hosts.length === 0) {
    out.push({ path: ['deploy', 'proxy', 'tls'], message: `tls ${proxy.tls} needs the app's host names: list them in deploy.proxy.hosts, or set tls: off` });
  }
  const seen = new Map<string, number>();
  hosts.forEach((h, i) => {
    if (!isStr(h)) return;
    const first = seen.get(h);
    if (first !== undefined) out.push({ path: ['deploy', 'proxy', 'hosts', i], message: `host name '${h}' is listed twice (also hosts[${first}])` });
    else seen.set(h, i);
  });
  if (isStr(proxy.image) && proxy.image !== '') {
    const problem = imageReferenceProblem(proxy.image);
    if (problem) out.push({ path: ['deploy', 'proxy', 'image'], message: problem });
  }
  items(proxy.trusted_proxies).forEach((t, i) => {
    const problem = isStr(t) ? trustedProxyProblem(t) : undefined;
    if (problem) out.push({ path: ['deploy', 'proxy', 'trusted_proxies', i], message: problem });
  });
  if (isObj(proxy.static)) {
    for (const key of ['root', 'url'] as const) {
      const v = proxy.static[key];
      if (isStr(v) && v.split('/').some((seg) => seg === '.' || seg === '..')) {
        out.push({ path: ['deploy', 'proxy', 'static', key], message: `'${v}' has a '.' or '..' segment; write the path without them` });
      }
    }
  }
}

/** One deploy.proxy.trusted_proxies entry: private_ranges, an IP address, or ADDRESS/PREFIX (CIDR, RFC 4632). */
export function trustedProxyProblem(s: string): string | undefined {
  if (s === 'private_ranges') return undefined;
  const [addr, prefix, extra] = s.split('/');
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  if (!family || extra !== undefined || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= max))) {
    return `'${s}' is not an IP range: use CIDR notation (10.0.0.0/8, 2001:db8::/32), an address, or private_ranges`;
  }
  return undefined;
}

/** deploy.env (or review.env): valid names, no name both clear and secret. */
function checkAppEnv(env: unknown, out: Problem[], section = 'deploy'): void {
  if (!isObj(env)) return;
  envNames(env.clear, [section, 'env', 'clear'], out);
  const clear = isObj(env.clear) ? env.clear : {};
  items(env.secret).forEach((n, i) => {
    if (!isStr(n) || n === '') return;
    if (!ENV_NAME.test(n)) out.push({ path: [section, 'env', 'secret', i], message: `invalid variable name '${n}'; use letters, digits and _, not starting with a digit` });
    else if (Object.prototype.hasOwnProperty.call(clear, n)) out.push({ path: [section, 'env', 'secret', i], message: `${n} is also in ${section}.env.clear; keep it in one of them (secret if its value must not be in the repository)` });
  });
}

/** Whether a service started on a deploy host has a readiness check pallet can run there (CatalogEntry.hostProbe or ready.command). */
function hostProbeProblem(s: unknown): string | undefined {
  const name = isStr(s) ? s : isObj(s) && isStr(s.name) ? s.name : undefined;
  if (name === undefined) return undefined;
  const ready = isObj(s) && isObj(s.ready) ? s.ready : undefined;
  if (ready && 'command' in ready) return undefined;
  if (ready) return `a review app's service is checked by a command in its container: give ready: {command: [...]} instead of ${Object.keys(ready)[0]}`;
  if (isCatalogService(name) && CATALOG[name].hostProbe) return undefined;
  return `'${name}' has no readiness check pallet can run on the host; give it ready: {command: [...]}, run inside its container, e.g. [bash, -c, 'echo > /dev/tcp/127.0.0.1/PORT'] where the image has bash`;
}

/**
 * review: hosts, the host name pattern (a valid name once {number} is filled), services like
 * test.services that can be checked on the host, review.env like deploy.env, and a deploy section
 * to take the roles and tasks from.
 */
function checkReview(review: unknown, deploy: unknown, out: Problem[]): void {
  if (!isObj(review)) return;
  if (!isObj(deploy)) out.push({ path: ['review'], message: 'needs a deploy section: a review app runs the roles and tasks of deploy on review.hosts' });
  // The same login as deploy.ssh gives it: two spellings of one login are one host.
  const ssh = isObj(deploy) && isObj(deploy.ssh) ? deploy.ssh : {};
  const defaults = { user: isStr(ssh.user) ? ssh.user : 'deploy', port: typeof ssh.port === 'number' ? ssh.port : 22 };
  const seen = new Map<string, number>();
  items(review.hosts).forEach((h, i) => {
    const parsed = checkHost(h, ['review', 'hosts', i], out);
    if (!parsed) return;
    const key = hostKey(parsed, defaults);
    if (seen.has(key)) out.push({ path: ['review', 'hosts', i], message: `host '${String(h)}' is listed twice (also review.hosts[${seen.get(key)}])` });
    else seen.set(key, i);
  });
  if (isStr(review.host) && review.host.includes('{number}')) {
    const example = review.host.replaceAll('{number}', '12');
    if (example.length > 253 || !example.split('.').every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l))) {
      out.push({ path: ['review', 'host'], message: `'${example}' (for pull request 12) is not a valid host name; each dot-separated label is letters, digits and -, not starting or ending with -` });
    }
  }
  const names = new Map<string, number>();
  items(review.services).forEach((s, i) => {
    const name = checkService(s, ['review', 'services', i], out);
    const probe = hostProbeProblem(s);
    if (probe) out.push({ path: ['review', 'services', i], message: probe });
    if (name === undefined || name === '') return;
    if (names.has(name)) out.push({ path: ['review', 'services', i], message: `service '${name}' is listed twice (also review.services[${names.get(name)}]); give each a distinct name` });
    else names.set(name, i);
  });
  checkAppEnv(review.env, out, 'review');
}

/** deploy.maintenance.page: an HTML file beside pallet.yml, small enough to travel in the proxy's config. */
function checkMaintenancePage(m: unknown, ctx: CheckContext, out: Problem[]): void {
  if (!isObj(m) || !isStr(m.page) || m.page === '') return;
  const file = path.resolve(ctx.dir, m.page);
  const at: KeyPath = ['deploy', 'maintenance', 'page'];
  if (!existsSync(file) || !statSync(file).isFile()) out.push({ path: at, message: `${ctx.show(file)} does not exist (relative to pallet.yml); write the page there, or leave page out for the built-in one` });
  else if (statSync(file).size > 64 * 1024) out.push({ path: at, message: `${ctx.show(file)} is ${Math.ceil(statSync(file).size / 1024)} KiB; the page travels in the proxy's configuration: keep it under 64 KiB and serve images and CSS as static files` });
}

/**
 * deploy.proxy.acme: only with `tls: auto` (what takes certificates from a CA); ca_root only
 * beside ca, and a file beside pallet.yml holding a PEM certificate.
 */
function checkAcme(proxy: unknown, ctx: CheckContext, out: Problem[]): void {
  if (!isObj(proxy) || !isObj(proxy.acme)) return;
  const a = proxy.acme;
  const tls = proxy.tls ?? (items(proxy.hosts).length ? 'auto' : 'off');
  if (tls !== 'auto') {
    const why = proxy.tls === undefined ? 'without deploy.proxy.hosts, tls is off' : `tls is ${String(proxy.tls)}`;
    out.push({ path: ['deploy', 'proxy', 'acme'], message: `the ACME CA is used by tls: auto only, and ${why}; remove acme, or list the host names and set tls: auto` });
  }
  if (!isStr(a.ca_root) || a.ca_root === '') return;
  const at: KeyPath = ['deploy', 'proxy', 'acme', 'ca_root'];
  if (a.ca === undefined) {
    out.push({ path: at, message: "ca_root is the certificate the proxy trusts for the ACME CA's HTTPS: set acme.ca (the CA's directory URL) too, or remove ca_root" });
    return;
  }
  const file = path.resolve(ctx.dir, a.ca_root);
  if (!existsSync(file) || !statSync(file).isFile()) out.push({ path: at, message: `${ctx.show(file)} does not exist (relative to pallet.yml); put the CA's root certificate (PEM) there` });
  else if (statSync(file).size > 64 * 1024) out.push({ path: at, message: `${ctx.show(file)} is ${Math.ceil(statSync(file).size / 1024)} KiB; a root certificate is a few KiB of PEM` });
  else if (!readFileSync(file, 'utf8').includes('-----BEGIN CERTIFICATE-----')) out.push({ path: at, message: `${ctx.show(file)} holds no PEM certificate (-----BEGIN CERTIFICATE-----); export the CA's root in PEM form` });
}

function checkDeploy(deploy: unknown, out: Problem[], ctx: CheckContext): void {
  if (!isObj(deploy)) return;
  checkMaintenancePage(deploy.maintenance, ctx, out);
  if (isObj(deploy.backup) && isStr(deploy.backup.image) && deploy.backup.image !== '') {
    const problem = imageReferenceProblem(deploy.backup.image);
    if (problem) out.push({ path: ['deploy', 'backup', 'image'], message: problem });
  }
  // A swarm refuses deploy.proxy as a whole (unsupportedOptions): nothing more to say about it.
  if (targetOf({ deploy }) !== 'swarm') checkAcme(deploy.proxy, ctx, out);
  checkProxy(deploy.proxy, out);
  const ssh = isObj(deploy.ssh) ? deploy.ssh : {};
  const defaults = {
    user: isStr(ssh.user) ? ssh.user : 'deploy',
    port: typeof ssh.port === 'number' ? ssh.port : 22,
  };
  if (isStr(ssh.jump) && ssh.jump !== '') checkHost(ssh.jump, ['deploy', 'ssh', 'jump'], out);
  const swarm = targetOf({ deploy }) === 'swarm';
  if (swarm) {
    const manager = (deploy.swarm as Obj).manager;
    if (isStr(manager) && manager !== '') checkHost(manager, ['deploy', 'swarm', 'manager'], out);
  }
  checkAppEnv(deploy.env, out);
  if (!swarm) checkCron(deploy.cron, deploy.roles, defaults, out);
  if (!isObj(deploy.roles)) return;
  for (const [role, cfg] of Object.entries(deploy.roles)) {
    if (!ROLE_NAME.test(role)) out.push({ path: ['deploy', 'roles', role], message: 'invalid role name; must match [a-z][a-z0-9_-]*' });
    if (!isObj(cfg)) continue;
    checkStopSignal(cfg.stop_signal, ['deploy', 'roles', role, 'stop_signal'], out);
    // Swarm places the tasks itself (a role's hosts are refused by unsupportedOptions).
    if (swarm) continue;
    if (cfg.hosts === undefined) out.push({ path: ['deploy', 'roles', role, 'hosts'], message: 'required key is missing', at: 'parent' });
    const seen = new Map<string, number>();
    items(cfg.hosts).forEach((h, i) => {
      const parsed = checkHost(h, ['deploy', 'roles', role, 'hosts', i], out);
      if (!parsed) return;
      const key = hostKey(parsed, defaults);
      const first = seen.get(key);
      if (first !== undefined) {
        out.push({ path: ['deploy', 'roles', role, 'hosts', i], message: `host '${String(h)}' is listed twice in role '${role}' (also hosts[${first}])` });
      } else {
        seen.set(key, i);
      }
    });
  }
}

/**
 * deploy.cron: job names like role names, schedules in standard five-field syntax (the field that
 * is wrong named), known time zones, hosts that are hosts of a role (the release is pulled only
 * there), and no line breaks in a command (each argument is one line on the host).
 */
function checkCron(cron: unknown, roles: unknown, defaults: { user: string; port: number }, out: Problem[]): void {
  if (!isObj(cron)) return;
  const roleHosts = new Set<string>();
  if (isObj(roles)) {
    for (const r of Object.values(roles)) {
      if (!isObj(r)) continue;
      for (const h of items(r.hosts)) {
        const parsed = isStr(h) ? parseHostAddress(h) : undefined;
        if (parsed && typeof parsed !== 'string') roleHosts.add(hostKey(parsed, defaults));
      }
    }
  }
  for (const [name, job] of Object.entries(cron)) {
    const at = (...k: (string | number)[]): KeyPath => ['deploy', 'cron', name, ...k];
    if (!ROLE_NAME.test(name)) out.push({ path: at(), message: 'invalid job name; must match [a-z][a-z0-9_-]*' });
    if (!isObj(job)) continue;
    if (isStr(job.schedule) && job.schedule.trim() !== '') {
      const problem = scheduleProblem(job.schedule);
      if (problem) out.push({ path: at('schedule'), message: problem });
    }
    if (isStr(job.timezone) && job.timezone !== '' && !isTimeZone(job.timezone)) {
      out.push({ path: at('timezone'), message: `unknown time zone '${job.timezone}'; use an IANA name like UTC, Europe/Berlin or America/New_York` });
    }
    const args = Array.isArray(job.command) ? job.command : [job.command];
    args.forEach((a, i) => {
      if (isStr(a) && /[\r\n]/.test(a)) out.push({ path: Array.isArray(job.command) ? at('command', i) : at('command'), message: 'a command argument cannot hold a line break' });
    });
    items(job.hosts).forEach((h, i) => {
      const parsed = checkHost(h, at('hosts', i), out);
      if (parsed && roleHosts.size && !roleHosts.has(hostKey(parsed, defaults))) {
        out.push({ path: at('hosts', i), message: `'${String(h)}' is not a host of any role; a job runs where the release is pulled: list it in a role, or pick one of the roles' hosts` });
      }
    });
  }
}

/** Every semantic problem of the parsed file, including the deploy options its target does not honour. */
export function semanticProblems(data: unknown, ctx: CheckContext): Problem[] {
  if (!isObj(data)) return [];
  const out: Problem[] = [];
  checkImage(data, ctx, out);
  checkBuild(data.build, ctx, out);
  checkTest(data.test, out);
  checkDeploy(data.deploy, out, ctx);
  checkReview(data.review, data.deploy, out);
  out.push(...unsupportedOptions(data));
  return out;
}
