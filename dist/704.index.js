export const id = 704;
export const ids = [704];
export const modules = {

/***/ 3207:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   $i: () => (/* binding */ concurrencyCount),
/* harmony export */   EO: () => (/* binding */ printInstanceGroup),
/* harmony export */   Nv: () => (/* binding */ beyondMaxErrors),
/* harmony export */   WN: () => (/* binding */ parseRate),
/* harmony export */   co: () => (/* binding */ allowedCount),
/* harmony export */   pD: () => (/* binding */ warnWithinMaxErrors)
/* harmony export */ });
/* unused harmony exports describeFailed, formatDuration */
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(924);
/* harmony import */ var _lines_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(1300);
/* harmony import */ var _log_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(5625);



function parseRate(text) {
    return { value: Number(text.replace('%', '')), percent: text.endsWith('%') };
}
/** How many of `total` instances a rate allows (SSM rounds a percentage down). */
function allowedCount(rate, total) {
    return rate.percent ? Math.floor((rate.value * total) / 100) : rate.value;
}
/**
 * How many of `total` instances run at once under a max-concurrency: at least one (SSM runs a
 * percentage smaller than one instance on one at a time), at most all.
 */
function concurrencyCount(rate, total) {
    return Math.max(1, Math.min(total, allowedCount(rate, total)));
}
/** Prints one instance's collapsible log group: its result as the title, its output inside. */
function printInstanceGroup(result, output, write, where) {
    const exit = result.exitCode === undefined ? 'no exit code' : `exit code ${result.exitCode}`;
    const took = result.durationMs === undefined ? '' : `, ${formatDuration(result.durationMs)}`;
    const name = where ? `${result.instanceId} (${where})` : result.instanceId;
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .startGroup */ .Oh(`${name}: ${result.status}, ${exit}${took}`);
    printOutput(output, write);
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .endGroup */ .N4();
}
/** The instance's output, wrapped so that no workflow command in it is obeyed; masked by the runner. */
function printOutput(output, write) {
    const untrusted = new _log_js__WEBPACK_IMPORTED_MODULE_2__/* .UntrustedOutput */ .Qb(write);
    untrusted.open();
    try {
        for (const [name, text] of [
            ['stdout', output.stdout],
            ['stderr', output.stderr]
        ]) {
            if (text.trim() === '')
                continue;
            if (output.stderr !== '')
                untrusted.line(`--- ${name} ---`);
            const splitter = new _lines_js__WEBPACK_IMPORTED_MODULE_1__/* .LineSplitter */ .g3(line => untrusted.line(line));
            splitter.write(text);
            splitter.end();
        }
        if (output.stdout.trim() === '' && output.stderr.trim() === '')
            untrusted.line('(no output)');
    }
    finally {
        untrusted.close();
    }
    if (output.cut)
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`[Output cut: ${output.cut}.]`);
}
/** "i-1 Failed, i-2 TimedOut", at most 50 named. */
function describeFailed(failed) {
    const shown = failed.slice(0, 50).map(r => `${r.instanceId} ${r.status}`);
    return failed.length > shown.length
        ? `${shown.join(', ')} and ${failed.length - shown.length} more`
        : shown.join(', ');
}
function formatDuration(ms) {
    return `${Number((ms / 1000).toFixed(1))} s`;
}
/** Failures within max-errors: the step passes, and says which did not restart. */
function warnWithinMaxErrors(failed, total, maxErrors) {
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .warning */ .$e(`${failed.length} of ${total} instances did not restart (${describeFailed(failed)}); ` +
        `within max-errors ${maxErrors}, so the step passes, with restarted false.`);
}
/** The opening of the message when more instances failed than max-errors allows. */
function beyondMaxErrors(service, failed, total, maxErrors, allowed) {
    return (`Restarting "${service}" did not succeed on ${failed.length} of ${total} instances, ` +
        `more than max-errors ${maxErrors} allows (${allowed}): ${describeFailed(failed)}. `);
}


/***/ }),

/***/ 704:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  restartFleetOverSsh: () => (/* binding */ restartFleetOverSsh)
});

// UNUSED EXPORTS: SSH_STATUS

// EXTERNAL MODULE: external "node:events"
var external_node_events_ = __webpack_require__(8474);
// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 14 modules
var core = __webpack_require__(924);
// EXTERNAL MODULE: ./src/cancel.ts
var cancel = __webpack_require__(833);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(3916);
// EXTERNAL MODULE: ./src/export.ts
var src_export = __webpack_require__(5169);
;// CONCATENATED MODULE: ./src/fan-out.ts
/**
 * `work` must not reject: it turns its own failures into results. If it does reject, no further
 * item starts and the rejection is passed on once the running items have settled.
 */
async function fanOut(items, options, work) {
    const results = items.map(() => undefined);
    const limit = Math.max(1, Math.floor(options.concurrency));
    let next = 0;
    let failures = 0;
    let broken;
    const mayStart = () => next < items.length && failures <= options.maxErrors && !broken && !options.signal?.aborted;
    // Each lane takes the next item when its last one ends; `limit` lanes run side by side.
    const lane = async () => {
        while (mayStart()) {
            const index = next++;
            try {
                const result = await work(items[index], index);
                results[index] = result;
                if (options.failed(result))
                    failures++;
            }
            catch (error) {
                broken ??= { error };
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
    if (broken)
        throw broken.error;
    return results;
}

// EXTERNAL MODULE: ./src/fleet.ts
var fleet = __webpack_require__(3207);
// EXTERNAL MODULE: ./src/lines.ts + 1 modules
var lines = __webpack_require__(1300);
// EXTERNAL MODULE: ./src/restart.ts + 1 modules
var restart = __webpack_require__(953);
// EXTERNAL MODULE: ./src/ssh/fingerprint.ts
var fingerprint = __webpack_require__(242);
// EXTERNAL MODULE: ./src/ssh/remote-shell.ts
var remote_shell = __webpack_require__(8461);
;// CONCATENATED MODULE: ./src/ssh/fleet.ts











/** Each instance's output is kept up to this many bytes (its last lines) until its group prints. */
const OUTPUT_BYTES = 64 * 1024;
/**
 * What an instance's result is called: Run Command's words where they mean the same (Success,
 * Failed, TimedOut), and the fan-out's own for the rest.
 */
const SSH_STATUS = {
    success: 'Success',
    /** A step ran and exited non-zero. */
    failed: 'Failed',
    /** A step was stopped at input "ssh-command-timeout". */
    timedOut: 'TimedOut',
    /** No command ran: no address, the host key refused, login refused, unreachable. */
    notConnected: 'NotConnected',
    /** Never started: more failed than max-errors allows, or the step was cancelled first. */
    notStarted: 'NotStarted',
    /** The step was cancelled while it ran: the connection was closed, the remote fate is unknown. */
    unknown: 'Unknown'
};
/**
 * restart: ssh with several instances. Every instance gets its own connection (one at a time
 * each) and its own host key check, at most max-concurrency of them at once; once more than
 * max-errors have failed, no further instance starts. Each instance's output is collected while
 * it runs and printed as one log group when it ends, so that concurrent connections never mix
 * their lines; the summary gets the same table as restart: ssm.
 */
async function restartFleetOverSsh(inputs, credentials, instances, clients, deps, report) {
    const { maxConcurrency, maxErrors } = inputs.ssm;
    const total = instances.length;
    const concurrency = (0,fleet/* concurrencyCount */.$i)((0,fleet/* parseRate */.WN)(maxConcurrency), total);
    const allowed = (0,fleet/* allowedCount */.co)((0,fleet/* parseRate */.WN)(maxErrors), total);
    // Every running instance listens for the step's cancellation (its connection, its command, its
    // waits): expected, not a leak, so no warning for more than Node's default of ten.
    if (deps.signal)
        (0,external_node_events_.setMaxListeners)(10 + concurrency * 4, deps.signal);
    const hostKeysFor = await hostKeyMode(inputs, instances, clients, deps.sleep);
    core/* info */.pq(`Restarting "${inputs.service}" on ${total} instances over SSH, ${concurrency} at a time ` +
        `(max-concurrency ${maxConcurrency}, max-errors ${maxErrors}).`);
    const outcomes = await fanOut(instances, {
        concurrency,
        maxErrors: allowed,
        failed: outcome => outcome.result.status !== SSH_STATUS.success,
        signal: deps.signal
    }, instance => restartInstance(instance, inputs, credentials, hostKeysFor, deps));
    const results = instances.map((instance, i) => outcomes[i]?.result ?? { instanceId: instance.instanceId, status: SSH_STATUS.notStarted });
    report.fleet = { unit: inputs.service, commandIds: [], via: 'ssh', results };
    (0,cancel/* throwIfStopped */.$J)(deps.signal);
    const failed = results.filter(r => r.status !== SSH_STATUS.success);
    if (failed.length > allowed) {
        const culprit = outcomes.find(o => o?.message !== undefined);
        const skipped = failed.some(r => r.status === SSH_STATUS.notStarted);
        throw new errors/* ActionError */.lZ((0,fleet/* beyondMaxErrors */.Nv)(inputs.service, failed, total, maxErrors, allowed) +
            (skipped
                ? `The ${SSH_STATUS.notStarted} ones were not restarted: no instance starts once max-errors is exceeded. `
                : '') +
            `Each instance's log group has its output.` +
            (culprit ? `\n${culprit.result.instanceId}: ${culprit.message}` : ''));
    }
    if (failed.length > 0) {
        (0,fleet/* warnWithinMaxErrors */.pD)(failed, total, maxErrors);
        return;
    }
    core/* setOutput */.uH(src_export/* OUTPUTS */.py.restarted, 'true');
    core/* info */.pq(`Restarted "${inputs.service}" on ${total} instances over SSH.`);
}
/** One instance: its host key check, the restart, its log group; never rejects. */
async function restartInstance(instance, inputs, credentials, hostKeysFor, deps) {
    const { instanceId, address } = instance;
    const started = Date.now();
    const output = new CollectedOutput();
    let outcome;
    try {
        if (address === '') {
            throw new errors/* ActionError */.lZ(`Instance ${instanceId} has no ${inputs.addressType} address (input "address-type"), so it cannot be reached over SSH.`);
        }
        await (0,restart/* restartService */.P)({
            host: address,
            port: inputs.ssh.port,
            credentials,
            hostKeys: await hostKeysFor(instanceId),
            service: inputs.service,
            healthCommand: inputs.ssh.healthCommand,
            connectTimeoutMs: inputs.ssh.connectTimeoutSeconds * 1000,
            commandTimeoutMs: inputs.ssh.commandTimeoutSeconds * 1000,
            sleep: deps.sleep,
            signal: deps.signal,
            log: {
                info: output,
                warning: message => core/* warning */.$e(`${instanceId}: ${message}`)
            }
        });
        outcome = {
            result: {
                instanceId,
                status: SSH_STATUS.success,
                exitCode: 0,
                durationMs: Date.now() - started
            }
        };
    }
    catch (error) {
        const message = (0,errors/* failureMessage */.oh)(error);
        const status = error instanceof cancel/* StoppedError */.Ko
            ? SSH_STATUS.unknown
            : error instanceof remote_shell/* RemoteStepError */.VO
                ? error.exitCode === remote_shell/* TIMED_OUT */.VP
                    ? SSH_STATUS.timedOut
                    : SSH_STATUS.failed
                : SSH_STATUS.notConnected;
        const exitCode = error instanceof remote_shell/* RemoteStepError */.VO ? error.exitCode : undefined;
        outcome = {
            result: { instanceId, status, exitCode, durationMs: Date.now() - started },
            message: error instanceof cancel/* StoppedError */.Ko
                ? 'the connection was closed when the step was cancelled: whether the restart ran there is unknown.'
                : message
        };
        // The action's own words, which quote what the instance printed: still untrusted text.
        for (const line of (outcome.message ?? '').split('\n'))
            output.line(line);
    }
    (0,fleet/* printInstanceGroup */.EO)(outcome.result, output.collected(), undefined, address ? `${address}:${inputs.ssh.port}` : undefined);
    return outcome;
}
/**
 * The host key check of each instance: the pinned fingerprints (any of them, for every
 * instance), none (opted in), or each instance's own console output. The mode goes to the log
 * once.
 */
async function hostKeyMode(inputs, instances, clients, sleep) {
    const { hostFingerprints, insecureSkipHostKeyCheck, connectTimeoutSeconds } = inputs.ssh;
    if (hostFingerprints.length > 0) {
        const pinned = { kind: 'pinned', fingerprints: hostFingerprints };
        core/* info */.pq(`${(0,fingerprint/* describeHostKeyMode */.Wp)(pinned)}, for each of the ${instances.length} instances`);
        return () => Promise.resolve(pinned);
    }
    if (insecureSkipHostKeyCheck) {
        core/* info */.pq((0,fingerprint/* describeHostKeyMode */.Wp)({ kind: 'any' }));
        core/* warning */.$e(`Not verifying the SSH host keys of the ${instances.length} instances (ssh-insecure-skip-host-key-check: true): ` +
            'whoever answers at their addresses gets the restart. Pin them with input "ssh-host-fingerprint" instead.');
        return () => Promise.resolve({ kind: 'any' });
    }
    // Loaded here: with it comes the EC2 client, most of the bundle's size.
    const { hostKeysFromConsole } = await Promise.all(/* import() */[__webpack_require__.e(193), __webpack_require__.e(818)]).then(__webpack_require__.bind(__webpack_require__, 4818));
    const ec2 = await clients.ec2();
    core/* info */.pq('host key: from the console output of each instance (input "ssh-host-fingerprint" is empty)');
    return async (instanceId) => ({
        kind: 'console',
        instanceId,
        keys: await hostKeysFromConsole(ec2, instanceId, connectTimeoutSeconds * 1000, sleep)
    });
}
/**
 * An instance's remote output while it runs: its last lines within a budget, printed in its log
 * group when it ends (runSteps hands it lines already split and cut to the log's line limit).
 */
class CollectedOutput {
    tail = new lines/* OutputTail */.gY(OUTPUT_BYTES);
    line(text) {
        this.tail.add(text);
    }
    around(stream) {
        return stream();
    }
    collected() {
        const { dropped } = this.tail;
        return {
            stdout: this.tail.all().join('\n'),
            stderr: '',
            cut: dropped > 0
                ? `its first ${dropped} lines were dropped: of each instance, the last ${OUTPUT_BYTES / 1024} KiB of output are kept`
                : undefined
        };
    }
}


/***/ })

};
