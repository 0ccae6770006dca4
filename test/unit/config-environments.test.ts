// environments: in pallet.yml: overlays merged over the base, selected by name; problems at the
// line they were written on, marked with the environments they are in.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { parseInputs } from '../../src/inputs.js';
import { prepareContext } from '../../src/commands/index.js';
import { runPromoteCommand } from '../../src/commands/promote.js';

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-envs-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function file(yaml: string): string {
  const f = path.join(tmp, `pallet-${++n}.yml`);
  writeFileSync(f, yaml);
  return f;
}

function messageOf(fn: () => unknown): string {
  try { fn(); } catch (e) { return (e as Error).message; }
  throw new Error('no error thrown');
}

const TWO = `app: blog
image: registry.example.com/team/blog
deploy:
  ssh: {user: deploy}
  url: https://blog.example.com
  env:
    clear: {DJANGO_DEBUG: "0", SITE: main}
    secret: [SECRET_KEY]
  roles:
    web: {hosts: [web1.example.com, web2.example.com]}
    worker: {hosts: [jobs.example.com], command: worker}
environments:
  staging:
    deploy:
      url: https://staging.blog.example.com
      env:
        clear: {SITE: staging}
      roles:
        web: {hosts: [staging.example.com]}
        worker: {hosts: [staging.example.com]}
  production:
`;

describe('environments', () => {
  test('the named overlay is merged: mappings key by key, lists and scalars replaced', () => {
    const c = loadConfig(file(TWO), {}, { environment: 'staging', needsEnvironment: true });
    expect(c.environment).toBe('staging');
    expect(c.deploy!.url).toBe('https://staging.blog.example.com');
    expect(c.deploy!.env).toEqual({ clear: { DJANGO_DEBUG: '0', SITE: 'staging' }, secret: ['SECRET_KEY'] });
    expect(c.deploy!.roles.web.hosts).toEqual(['staging.example.com']);
    expect(c.deploy!.roles.worker).toMatchObject({ hosts: ['staging.example.com'], command: 'worker' });
    expect(c.deploy!.ssh.user).toBe('deploy');
  });

  test('an empty overlay is the base file under that name', () => {
    const c = loadConfig(file(TWO), {}, { environment: 'production', needsEnvironment: true });
    expect(c.environment).toBe('production');
    expect(c.deploy!.roles.web.hosts).toEqual(['web1.example.com', 'web2.example.com']);
    expect(c.deploy!.env!.clear.SITE).toBe('main');
  });

  test('a command on hosts refuses to guess: the environments are listed with the option to name one', () => {
    const f = file(TWO);
    expect(messageOf(() => loadConfig(f, {}, { needsEnvironment: true, where: 'flag' })))
      .toBe(`${f}:12:1 environments: declares staging, production: name the one to act on with --environment`);
  });

  test('an unknown name is refused at the environments key, naming the declared ones and the input', () => {
    const f = file(TWO);
    expect(messageOf(() => loadConfig(f, {}, { environment: 'prod', needsEnvironment: true })))
      .toBe(`${f}:12:1 environments: has no environment 'prod' (named by input 'environment'); declared: staging, production`);
  });

  test('build, test, push and ci load the base without deploy, after every environment is checked', () => {
    const c = loadConfig(file(TWO), {}, {});
    expect(c.deploy).toBeUndefined();
    expect(c.environment).toBeUndefined();
    const broken = TWO.replace('        worker: {hosts: [staging.example.com]}', '        worker: {hosts: [staging.example.com], stop_timeout: soon}');
    expect(messageOf(() => loadConfig(file(broken), {}, {})))
      .toMatch(/:20:48 deploy\.roles\.worker\.stop_timeout: .* \(environment staging\)$/);
  });

  test('a problem in one overlay is reported at its own line, marked with that environment; one in the base once, unmarked', () => {
    const yaml = TWO.replace('ssh: {user: deploy}', 'ssh: {user: deploy, port: ssh}')
      .replace('      url: https://staging.blog.example.com', '      url: staging.blog.example.com');
    const msg = messageOf(() => loadConfig(file(yaml), {}, { environment: 'production', needsEnvironment: true }));
    const lines = msg.split('\n').filter((l) => /:\d+:\d+ /.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/:4:23 deploy\.ssh\.port: expected a port number \(1-65535\)$/);
    expect(lines[1]).toMatch(/:15:7 deploy\.url: must be an http:\/\/ or https:\/\/ URL \(environment staging\)$/);
  });

  test.each([
    ['image', 'cannot be overlaid: every environment deploys the same image, built and tested once'],
    ['build', 'cannot be overlaid: the image is built once for every environment'],
    ['test', 'cannot be overlaid: the image is tested once'],
    ['swarm', 'is not a key an environment can overlay (only app, deploy)'],
  ])('overlay key %s is refused at its position', (key, message) => {
    const yaml = TWO.replace('  production:\n', `  production:\n    ${key}: x\n`);
    const msg = messageOf(() => loadConfig(file(yaml), {}, { environment: 'production' }));
    expect(msg).toContain(`:22:5 environments.production.${key}: ${message}`);
  });

  test('environment names follow GitHub environment names', () => {
    const yaml = TWO.replace('  production:\n', '  "prod uction":\n');
    expect(messageOf(() => loadConfig(file(yaml), {}, {}))).toContain('environments.prod uction: is not a valid environment name');
  });

  test('without environments the file loads as before; a named environment is only carried along', () => {
    const plain = TWO.slice(0, TWO.indexOf('environments:'));
    const c = loadConfig(file(plain), {}, { environment: 'production', needsEnvironment: true });
    expect(c.environment).toBe('production');
    expect(c.deploy!.roles.web.hosts).toEqual(['web1.example.com', 'web2.example.com']);
    expect(loadConfig(file(plain), {}, { needsEnvironment: true }).environment).toBeUndefined();
  });

  test('an app name overlay gives an environment its own containers, lock and state on shared hosts', () => {
    const yaml = TWO.replace('  staging:\n', '  staging:\n    app: blog-staging\n');
    expect(loadConfig(file(yaml), {}, { environment: 'staging' }).app).toBe('blog-staging');
    expect(loadConfig(file(yaml), {}, { environment: 'production' }).app).toBe('blog');
  });
});

describe('promote refuses, before any host, what cannot be a promotion', () => {
  const refusal = async (yaml: string, raw: Record<string, string>) => {
    const inputs = parseInputs((n) => ({ command: 'promote', config: file(yaml), ...raw })[n] ?? '', 'flag');
    const ctx = await prepareContext(inputs, { where: 'flag' });
    return runPromoteCommand(ctx).then(() => 'not refused', (e: Error) => e.message);
  };

  test('a file without environments: staging and production would be the same hosts', async () => {
    const plain = TWO.slice(0, TWO.indexOf('environments:'));
    expect(await refusal(plain, { from: 'staging', environment: 'production' })).toMatch(/^promote needs environments in .*: it declares none/);
  });

  test.each([
    ['no source', { environment: 'production' }, /^promote needs --from: the environment whose release is deployed$/],
    ['the same environment twice', { from: 'production', environment: 'production' }, /^promote: --from and the target environment are both 'production'$/],
    ['a tag besides', { from: 'staging', environment: 'production', tag: 'build-7' }, /^promote deploys what staging runs: --tag cannot be given with it$/],
    ['an unknown source', { from: 'qa', environment: 'production' }, /environments: has no environment 'qa' \(named by --environment\); declared: staging, production/],
  ])('%s', async (_n, raw, message) => {
    expect(await refusal(TWO, raw)).toMatch(message);
  });

  test('the loaded config lists the declared environments', () => {
    expect(loadConfig(file(TWO), {}, { environment: 'staging' }).environments).toEqual(['staging', 'production']);
    expect(loadConfig(file(TWO.slice(0, TWO.indexOf('environments:'))), {}, {}).environments).toBeUndefined();
  });
});

describe('environments on shared machines', () => {
  const SHARED = `app: shop
image: registry.example.com/team/shop
deploy:
  roles:
    web: {hosts: [deploy@box.example.com], command: serve}
  proxy: {hosts: [shop.example.com]}
environments:
  staging:
    deploy:
      proxy: {hosts: [staging.shop.example.com]}
  production:
`;
  test('the same app on the same machine is refused at the later environment: one would replace the other', () => {
    expect(messageOf(() => loadConfig(file(SHARED), {}, { environment: 'production' })))
      .toMatch(/:11:3 environments\.production: deploys app 'shop' to box\.example\.com:22 like environment staging: one would replace the other; give it its own app \(and env_file\) in its overlay, e\.g\. app: shop-production/);
  });

  test('the same proxy host name on the same machine is refused too', () => {
    const yaml = SHARED.replace('      proxy: {hosts: [staging.shop.example.com]}', '      proxy: {hosts: [shop.example.com]}').replace('  staging:\n', '  staging:\n    app: shop-staging\n');
    expect(messageOf(() => loadConfig(file(yaml), {}, {}))).toMatch(/environments\.production: routes shop\.example\.com on box\.example\.com:22 like environment staging: give each environment its own deploy\.proxy\.hosts/);
  });

  test('their own app and host names share a machine fine; another port is another machine', () => {
    const own = SHARED.replace('  staging:\n', '  staging:\n    app: shop-staging\n');
    expect(loadConfig(file(own), {}, { environment: 'staging' }).app).toBe('shop-staging');
    const elsewhere = SHARED.replace('  production:\n', '  production:\n    deploy:\n      roles: {web: {hosts: ["box.example.com:2222"]}}\n');
    expect(loadConfig(file(elsewhere), {}, { environment: 'production' }).deploy!.roles.web.hosts).toEqual(['box.example.com:2222']);
  });
});
