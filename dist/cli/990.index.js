export const id = 990;
export const ids = [990];
export const modules = {

/***/ 44990:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  runHostCommand: () => (/* binding */ runHostCommand)
});

// UNUSED EXPORTS: runInherited

// EXTERNAL MODULE: external "node:child_process"
var external_node_child_process_ = __webpack_require__(31421);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
var external_node_path_default = /*#__PURE__*/__webpack_require__.n(external_node_path_);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(83916);
// EXTERNAL MODULE: ./src/config/load.ts + 4 modules
var load = __webpack_require__(41242);
// EXTERNAL MODULE: ./src/util/cleanup.ts
var cleanup = __webpack_require__(4532);
// EXTERNAL MODULE: ./src/util/reporter.ts
var reporter = __webpack_require__(81855);
// EXTERNAL MODULE: ./src/docker/client.ts
var client = __webpack_require__(79949);
// EXTERNAL MODULE: ./src/cleanroom/plan.ts
var cleanroom_plan = __webpack_require__(45083);
// EXTERNAL MODULE: ./src/cleanroom/docker-ops.ts
var docker_ops = __webpack_require__(69514);
// EXTERNAL MODULE: ./src/cleanroom/services.ts + 2 modules
var cleanroom_services = __webpack_require__(62021);
// EXTERNAL MODULE: ./src/cleanroom/cleanup.ts
var cleanroom_cleanup = __webpack_require__(48506);
;// CONCATENATED MODULE: ./src/cleanroom/host-services.ts







async function withPublishedServices(config, ledger, signal, fn, docker = (0,client/* dockerClient */._)()) {
    const runId = (0,cleanroom_plan/* newRunId */.F$)();
    const [plan] = (0,cleanroom_plan/* planShards */.tF)(config, { runId, shards: 1, publish: true });
    for (const s of (0,cleanroom_plan/* secretValues */.VX)(plan.services, config.test.environment))
        (0,reporter/* reporter */.YX)().setSecret(s);
    await (0,client/* ensureEngine */.v)(docker);
    const item = { kind: 'docker-label', label: cleanroom_plan/* RUN_LABEL */.jQ, value: runId };
    ledger.add(item);
    try {
        await (0,docker_ops/* createNetwork */.VS)(docker, plan.network.name, plan.network.labels);
        const services = await (0,cleanroom_services/* startServices */.F)(docker, plan, signal);
        const env = (0,cleanroom_plan/* appEnvironment */.T3)(plan.app, services.map((s) => ({ svc: s.plan, endpoint: s.endpoint })), config.test.environment);
        for (const s of services)
            (0,reporter/* reporter */.YX)().info(`${s.plan.name}: 127.0.0.1:${s.endpoint.port}`);
        return await fn(env, services);
    }
    finally {
        try {
            await (0,cleanroom_cleanup/* removeByLabels */.F)(docker, [`${cleanroom_plan/* RUN_LABEL */.jQ}=${runId}`]);
            ledger.done(item);
        }
        catch (e) {
            (0,reporter/* reporter */.YX)().warning(`could not remove the services of run ${runId}: ${(0,errors/* errorMessage */.gJ)(e)}`);
        }
    }
}

;// CONCATENATED MODULE: ./src/commands/run.ts
// `pallet run -- cmd ...`: a command on this machine with the cleanroom services provided
// (ports on 127.0.0.1, the same variables as in CI). Its exit code is ours.







async function runHostCommand(args, opts) {
    if (!args.rest.length) {
        throw new errors/* UserError */.yo('pallet run: no command given', "put the command after --, e.g. 'pallet run -- ./manage.py test'");
    }
    const workdir = external_node_path_default().resolve(args.raw('working-directory') || '.');
    const config = (0,load/* loadConfig */.Z9)(external_node_path_default().resolve(workdir, args.raw('config') || 'pallet.yml'), { image: args.raw('image') || undefined });
    const ledger = opts.ledger ?? new cleanup/* CleanupLedger */.s();
    const signal = opts.signal ?? new AbortController().signal;
    const env = opts.env ?? process.env;
    return withPublishedServices(config, ledger, signal, async (serviceEnv) => {
        (0,reporter/* reporter */.YX)().info(`running: ${args.rest.join(' ')}`);
        return runInherited(args.rest, { ...env, ...serviceEnv }, workdir, signal);
    });
}
/** Spawns with inherited stdio; resolves to the exit code (128+n for a signal, as shells do). */
function runInherited(cmd, env, cwd, signal) {
    return new Promise((resolve, reject) => {
        const child = (0,external_node_child_process_.spawn)(cmd[0], cmd.slice(1), { stdio: 'inherit', env, cwd });
        const onAbort = () => child.kill('SIGTERM');
        signal.addEventListener('abort', onAbort, { once: true });
        child.on('error', (e) => {
            signal.removeEventListener('abort', onAbort);
            reject(e.code === 'ENOENT' ? new errors/* UserError */.yo(`pallet run: command not found: ${cmd[0]}`, 'check the command after --') : e);
        });
        child.on('exit', (code, sig) => {
            signal.removeEventListener('abort', onAbort);
            const signals = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
            resolve(code ?? (sig ? 128 + (signals[sig] ?? 1) : 1));
        });
    });
}


/***/ })

};
