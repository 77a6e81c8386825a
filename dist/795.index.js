export const id = 795;
export const ids = [795,900,40];
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

/***/ 2900:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   VN: () => (/* binding */ chunks),
/* harmony export */   XL: () => (/* binding */ instanceAtAddress),
/* harmony export */   findInstanceIds: () => (/* binding */ findInstanceIds),
/* harmony export */   locateTargets: () => (/* binding */ locateTargets),
/* harmony export */   setInstanceOutputs: () => (/* binding */ setInstanceOutputs),
/* harmony export */   waitForAddresses: () => (/* binding */ waitForAddresses)
/* harmony export */ });
/* unused harmony exports INSTANCE_ID, resolveTargets */
/* harmony import */ var _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(5193);
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(924);
/* harmony import */ var _backoff_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(2431);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3916);
/* harmony import */ var _export_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(5169);
/* harmony import */ var _log_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(5625);






const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const describeCall = (subject) => ({
    action: 'ec2:DescribeInstances',
    subject,
    resource: '*'
});
/** DescribeInstances takes at most this many ids in one request; larger fleets go in batches. */
const IDS_PER_REQUEST = 100;
/**
 * The instances the stack deployed, sorted: the ids in the output named by `instance-id-output`
 * (one, or several separated by commas), else every output that holds an instance id, else every
 * running instance CloudFormation tagged with the stack.
 */
async function findInstanceIds(ec2, stack, stackOutputs, instanceIdOutput) {
    if (instanceIdOutput !== '') {
        const value = stackOutputs[instanceIdOutput];
        if (value === undefined) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Stack "${stack}" has no output "${instanceIdOutput}" (input "instance-id-output"); its outputs are ${listOrNone(Object.keys(stackOutputs))}.`);
        }
        const ids = value.split(',').map(id => id.trim());
        const bad = ids.find(id => !INSTANCE_ID.test(id));
        if (bad !== undefined) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Output "${instanceIdOutput}" of stack "${stack}" is "${(0,_log_js__WEBPACK_IMPORTED_MODULE_3__/* .quoteUntrusted */ .X0)(value, 200)}", not an instance id ` +
                '(i-...) or a comma-separated list of them.');
        }
        return sortedUnique(ids);
    }
    const fromOutputs = Object.values(stackOutputs).filter(value => INSTANCE_ID.test(value));
    if (fromOutputs.length > 0)
        return sortedUnique(fromOutputs);
    const tagged = await describeRunning(ec2, [{ Name: 'tag:aws:cloudformation:stack-name', Values: [stack] }], `the instances of stack "${stack}"`);
    if (tagged.length === 0) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Found no instance for stack "${stack}": it has no output holding an instance id and no running instance is ` +
            'tagged aws:cloudformation:stack-name with its name. Add a CfnOutput of instance.instanceId and name it in "instance-id-output".');
    }
    return sortedUnique(tagged.map(instance => instance.InstanceId ?? ''));
}
/**
 * The running instances input "targets" names: instance ids and `tag:Key=Value` filters, each
 * entry adding its instances. Sorted by id; the address is that of `addressType`, or empty.
 */
async function resolveTargets(ec2, targets, addressType) {
    const ids = [];
    const tags = [];
    for (const target of targets) {
        const tag = /^tag:([^=]+)=(.*)$/.exec(target);
        if (tag)
            tags.push({ key: tag[1], value: tag[2] });
        else if (INSTANCE_ID.test(target))
            ids.push(target);
        else {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Input "targets" has "${target}", which is neither an instance id (i-...) nor a tag filter ` +
                '(tag:Key=Value); give one per line or separated by commas.');
        }
    }
    const found = new Map();
    for (const batch of chunks(sortedUnique(ids), IDS_PER_REQUEST)) {
        for (const instance of await describeIds(ec2, batch)) {
            const id = instance.InstanceId ?? '';
            if (instance.State?.Name !== 'running') {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Instance ${id} (input "targets") is ${instance.State?.Name ?? 'in an unknown state'}, not running; start it or remove it from "targets".`);
            }
            found.set(id, instance);
        }
    }
    for (const { key, value } of tags) {
        const matches = await describeRunning(ec2, [{ Name: `tag:${key}`, Values: [value] }], `the instances tagged ${key}=${value} (input "targets")`);
        if (matches.length === 0) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`No running instance is tagged ${key}=${value} (input "targets"); check the tag's key and value.`);
        }
        for (const instance of matches)
            found.set(instance.InstanceId ?? '', instance);
    }
    return [...found.keys()].sort().map(instanceId => ({
        instanceId,
        address: addressOf(found.get(instanceId), addressType) ?? ''
    }));
}
/** The running instance at the address the secret's `hostKey` holds (restart: ssm needs its id). */
async function instanceAtAddress(ec2, address, addressType, hostKey) {
    const filter = addressType === 'public' ? 'ip-address' : 'private-ip-address';
    const found = await describeRunning(ec2, [{ Name: filter, Values: [address] }], `the instance at the address in "${hostKey}"`);
    if (found.length !== 1) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`No single running EC2 instance has the ${addressType} address in "${hostKey}" of the deployment secret, and ` +
            'restart: ssm needs an instance id: name the instances with input "targets", or check address-type.');
    }
    return found[0].InstanceId ?? '';
}
const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);
/**
 * Waits until every instance is running and has the address asked for, within one time budget;
 * each round asks about all the instances still waited for at once, not one by one.
 */
async function waitForAddresses(ec2, instanceIds, addressType, timeoutMs, sleep) {
    const backoff = (0,_backoff_js__WEBPACK_IMPORTED_MODULE_4__/* .createBackoff */ .l)({ totalMs: timeoutMs, initialDelayMs: 2000, sleep });
    const ready = new Map();
    const lastSeen = new Map();
    let waiting = [...instanceIds];
    do {
        const known = new Map();
        for (const batch of chunks(waiting, IDS_PER_REQUEST))
            for (const instance of await describeIds(ec2, batch, true))
                known.set(instance.InstanceId ?? '', instance);
        for (const instanceId of waiting) {
            const instance = known.get(instanceId);
            if (!instance) {
                lastSeen.set(instanceId, 'not found');
                continue;
            }
            const state = instance.State?.Name ?? 'unknown';
            if (GONE.has(state)) {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Instance ${instanceId} is ${state}, so it cannot be reached; check the stack's events in CloudFormation.`);
            }
            const address = addressOf(instance, addressType);
            if (state === 'running' && address)
                ready.set(instanceId, address);
            else
                lastSeen.set(instanceId, state === 'running' ? `running without a ${addressType} address` : state);
        }
        waiting = waiting.filter(id => !ready.has(id));
        if (waiting.length === 0)
            return [...instanceIds].map(instanceId => ({
                instanceId,
                address: ready.get(instanceId)
            }));
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(describeWaiting(waiting, lastSeen, instanceIds.length));
    } while (await backoff.wait());
    const first = waiting[0];
    const seen = lastSeen.get(first) ?? 'not found';
    const others = waiting.length > 1 ? ` (and ${waiting.length - 1} more instances)` : '';
    const hint = seen === 'running without a public address'
        ? ' Give it a public IP (a public subnet with auto-assign, or an Elastic IP), or set address-type: private.'
        : '';
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Instance ${first}${others} was still ${seen} after ${Math.round(timeoutMs / 1000)} s (input "instance-timeout").${hint}`);
}
function describeWaiting(waiting, lastSeen, total) {
    if (total === 1)
        return `Instance ${waiting[0]} is ${lastSeen.get(waiting[0])}; waiting.`;
    const shown = waiting.slice(0, 5).map(id => `${id} ${lastSeen.get(id)}`);
    const more = waiting.length > shown.length ? `, and ${waiting.length - shown.length} more` : '';
    return `${waiting.length} of ${total} instances not ready yet (${shown.join(', ')}${more}); waiting.`;
}
function addressOf(instance, addressType) {
    return addressType === 'public' ? instance.PublicIpAddress : instance.PrivateIpAddress;
}
/**
 * The instances with these ids. With `tolerateUnknown`, an id EC2 does not know yet (it is
 * eventually consistent after a launch) is left out instead of failing the call: a request naming
 * an unknown id fails whole, so the ids are then asked about one by one.
 */
async function describeIds(ec2, instanceIds, tolerateUnknown = false) {
    const subject = instanceIds.length === 1 ? `instance ${instanceIds[0]}` : `${instanceIds.length} instances`;
    try {
        return await collect(ec2, { InstanceIds: instanceIds });
    }
    catch (error) {
        if (error.name !== 'InvalidInstanceID.NotFound')
            throw (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeAwsError */ .Pp)(error, describeCall(subject));
        if (instanceIds.length > 1) {
            const each = await Promise.all(instanceIds.map(id => describeIds(ec2, [id], true)));
            const found = each.flat();
            const missing = instanceIds.filter(id => !found.some(i => i.InstanceId === id));
            if (tolerateUnknown || missing.length === 0)
                return found;
            throw unknownInstance(missing[0]);
        }
        if (tolerateUnknown)
            return [];
        throw unknownInstance(instanceIds[0]);
    }
}
function unknownInstance(instanceId) {
    return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Instance ${instanceId} (input "targets") does not exist in this account and region; check the id and AWS_REGION.`);
}
async function describeRunning(ec2, filters, subject) {
    try {
        return await collect(ec2, {
            Filters: [...filters, { Name: 'instance-state-name', Values: ['running'] }]
        });
    }
    catch (error) {
        throw (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeAwsError */ .Pp)(error, describeCall(subject));
    }
}
/** Every page of DescribeInstances, flattened. */
async function collect(ec2, input) {
    const instances = [];
    for await (const page of (0,_aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_5__.paginateDescribeInstances)({ client: ec2 }, input))
        for (const reservation of page.Reservations ?? [])
            instances.push(...(reservation.Instances ?? []));
    return instances;
}
/** Sets the instance outputs: the first as instance-id/-ip, all as JSON arrays in id order. */
function setInstanceOutputs(instances) {
    const fleet = {
        instanceId: instances[0].instanceId,
        address: instances.map(i => i.address).join(','),
        instances
    };
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .setOutput */ .uH(_export_js__WEBPACK_IMPORTED_MODULE_2__/* .OUTPUTS */ .py.instanceId, fleet.instanceId);
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .setOutput */ .uH(_export_js__WEBPACK_IMPORTED_MODULE_2__/* .OUTPUTS */ .py.instanceIp, instances[0].address);
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .setOutput */ .uH(_export_js__WEBPACK_IMPORTED_MODULE_2__/* .OUTPUTS */ .py.instanceIds, JSON.stringify(instances.map(i => i.instanceId)));
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .setOutput */ .uH(_export_js__WEBPACK_IMPORTED_MODULE_2__/* .OUTPUTS */ .py.instanceIps, JSON.stringify(instances.map(i => i.address)));
    return fleet;
}
/** With deploy false: the instances input "targets" names, with their outputs set. */
async function locateTargets(ec2, targets, addressType) {
    const instances = await resolveTargets(ec2, targets, addressType);
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`Input "targets" names ${instances.length} running instance${instances.length > 1 ? 's' : ''}: ` +
        `${instances.map(i => i.instanceId).join(', ')}.`);
    return setInstanceOutputs(instances);
}
function chunks(items, size) {
    const result = [];
    for (let i = 0; i < items.length; i += size)
        result.push(items.slice(i, i + size));
    return result;
}
function sortedUnique(ids) {
    return [...new Set(ids.filter(id => id !== ''))].sort();
}
/** Output names come from the CDK app: quoted as untrusted text, and only the first few. */
function listOrNone(names) {
    if (names.length === 0)
        return 'none';
    const shown = names.slice(0, 20).map(name => `"${(0,_log_js__WEBPACK_IMPORTED_MODULE_3__/* .quoteUntrusted */ .X0)(name, 200)}"`);
    return names.length > shown.length
        ? `${shown.join(', ')} and ${names.length - shown.length} more`
        : shown.join(', ');
}


/***/ }),

/***/ 6040:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   YQ: () => (/* binding */ MAX_IDS_PER_COMMAND),
/* harmony export */   i$: () => (/* binding */ batchRates),
/* harmony export */   restartScript: () => (/* binding */ restartScript)
/* harmony export */ });
/* harmony import */ var shell_quote__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(6591);
/* harmony import */ var _fleet_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3207);
/* harmony import */ var _ssh_validate_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(8514);



/** SSM's limit of instance ids in one SendCommand. */
const MAX_IDS_PER_COMMAND = 50;
/**
 * The lines AWS-RunShellScript runs as root on every instance: the restart of the unit, then its
 * check. Built from the validated unit name and the workflow's own health command, each quoted as
 * one word, never from text out of a secret.
 */
function restartScript(service, healthCommand) {
    (0,_ssh_validate_js__WEBPACK_IMPORTED_MODULE_2__/* .checkServiceName */ .PV)(service);
    const restart = (0,shell_quote__WEBPACK_IMPORTED_MODULE_0__.quote)(['systemctl', 'restart', '--', service]);
    const check = healthCommand
        ? (0,shell_quote__WEBPACK_IMPORTED_MODULE_0__.quote)(['sh', '-c', healthCommand])
        : (0,shell_quote__WEBPACK_IMPORTED_MODULE_0__.quote)(['systemctl', 'is-active', '--', service]);
    // One line: AWS-RunShellScript goes on after a failed line, and the check must not run then.
    return [`${restart} && ${check}`];
}
// Rates are shared with the SSH fan-out.

/**
 * A fleet larger than one SendCommand allows goes out as several commands at once. A percentage
 * means the same in each; a count of concurrent instances is shared out by the batches' sizes, so
 * that together they never run more than asked (at least one each). Errors are counted over the
 * whole fleet by the action, so each batch gets the whole allowance and the action cancels the
 * rest when the fleet exceeds it.
 */
function batchRates(maxConcurrency, maxErrors, batchSize, total) {
    const concurrency = (0,_fleet_js__WEBPACK_IMPORTED_MODULE_1__/* .parseRate */ .WN)(maxConcurrency);
    if (concurrency.percent || batchSize === total)
        return { maxConcurrency, maxErrors };
    const share = Math.max(1, Math.floor((concurrency.value * batchSize) / total));
    return { maxConcurrency: String(share), maxErrors };
}


/***/ }),

/***/ 1795:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  restartOverSsm: () => (/* binding */ restartOverSsm)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 14 modules
var core = __webpack_require__(924);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(3916);
// EXTERNAL MODULE: ./src/export.ts
var src_export = __webpack_require__(5169);
// EXTERNAL MODULE: ./src/instance.ts
var instance = __webpack_require__(2900);
// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-ssm/dist-cjs/index.js
var dist_cjs = __webpack_require__(4736);
// EXTERNAL MODULE: ./src/backoff.ts
var src_backoff = __webpack_require__(2431);
// EXTERNAL MODULE: ./src/fleet.ts
var fleet = __webpack_require__(3207);
// EXTERNAL MODULE: ./src/lines.ts + 1 modules
var src_lines = __webpack_require__(1300);
// EXTERNAL MODULE: ./src/log.ts
var log = __webpack_require__(5625);
// EXTERNAL MODULE: ./src/ssm/command.ts
var command = __webpack_require__(6040);
;// CONCATENATED MODULE: ./src/ssm/restart.ts









const DOCUMENT = 'AWS-RunShellScript';
const SEND_RESOURCE = `arn:aws:ssm:*:*:document/${DOCUMENT} and arn:aws:ec2:*:*:instance/*`;
/** Pending states; everything else is final. */
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);
/** Details that say more than the status they come with. */
const TELLING_DETAILS = new Set([
    'Undeliverable',
    'Terminated',
    'DeliveryTimedOut',
    'ExecutionTimedOut',
    'InvalidPlatform',
    'AccessDenied'
]);
/** With this many instances or fewer, everyone's full output is fetched; above, only failures'. */
const FULL_OUTPUT_UP_TO = 5;
/** At most this many full outputs are fetched, so that a fleet-wide failure costs a bounded number of requests. */
const MAX_FULL_OUTPUTS = 20;
/** GetCommandInvocation keeps this many characters of each stream. */
const SSM_OUTPUT_LIMIT = 24_000;
/** ListCommandInvocations keeps this many characters of a plugin's output. */
const PLUGIN_OUTPUT_LIMIT = 2_500;
const TRUNCATED = '---Output truncated---';
const STDERR_LINES_IN_MESSAGE = 20;
const INSTANCE_INFO_PAGE = 50;
/** The instance ids one DescribeInstanceInformation filter takes. */
const IDS_PER_FILTER = 50;
/** After the command's own timeout, SSM needs a moment to report the time-outs. */
const REPORTING_GRACE_MS = 60_000;
const AGENT_NEEDS = 'it needs the SSM agent installed and running, an instance profile with the policy ' +
    'AmazonSSMManagedInstanceCore, and a route to the SSM endpoints (ssm, ssmmessages, ec2messages: ' +
    'a NAT or internet gateway, or VPC endpoints)';
/**
 * Restarts the service on every instance with one Run Command (one per 50 instances), waits for
 * every invocation with paginated polls, and reports each instance. Failures within max-errors
 * come back in `failed`; beyond it, also in `failure`.
 */
async function restartWithRunCommand(options) {
    const { instanceIds, signal } = options;
    const commands = (0,command.restartScript)(options.service, options.healthCommand);
    const budget = (0,src_backoff/* createBackoff */.l)({
        totalMs: options.timeoutSeconds * 1000,
        initialDelayMs: 1000,
        maxDelayMs: 10_000,
        sleep: abortableSleep(options.sleep, signal)
    });
    await waitForAgents(options, budget);
    const remainingSeconds = Math.max(30, Math.ceil(budget.remainingMs() / 1000));
    const commandIds = [];
    const batches = (0,instance/* chunks */.VN)(instanceIds, command/* MAX_IDS_PER_COMMAND */.YQ);
    try {
        for (const batch of batches) {
            throwIfAborted(signal);
            commandIds.push(await send(options, batch, commands, remainingSeconds, batches.length > 1 ? batch : null));
        }
    }
    catch (error) {
        const why = signal?.aborted ? 'the step was cancelled' : 'a later command could not be sent';
        await cancel(options.ssm, commandIds, why);
        throw error;
    }
    core/* info */.pq(`Sent ${DOCUMENT} to ${instanceIds.length} instance${instanceIds.length > 1 ? 's' : ''} ` +
        `(command ${commandIds.join(', ')}; max-concurrency ${options.maxConcurrency}, max-errors ${options.maxErrors}).`);
    const invocations = await waitForInvocations(options, commandIds, remainingSeconds * 1000);
    const results = await reportInstances(options, invocations);
    const failed = results.filter(r => r.status !== 'Success');
    const allowed = (0,fleet/* allowedCount */.co)((0,fleet/* parseRate */.WN)(options.maxErrors), instanceIds.length);
    const result = { commandIds, results, failed };
    if (failed.length > allowed) {
        result.failure = await failureMessage(options, invocations, failed, allowed);
    }
    else if (failed.length > 0) {
        (0,fleet/* warnWithinMaxErrors */.pD)(failed, instanceIds.length, options.maxErrors);
    }
    return result;
}
/** Sends one command; `batch` says which instances it is for when there are several. */
async function send(options, instanceIds, commands, timeoutSeconds, batch) {
    const rates = (0,command/* batchRates */.i$)(options.maxConcurrency, options.maxErrors, instanceIds.length, options.instanceIds.length);
    try {
        const response = await options.ssm.send(new dist_cjs.SendCommandCommand({
            DocumentName: DOCUMENT,
            InstanceIds: instanceIds,
            Comment: `secrets-deploy-action: restart ${options.service}`,
            Parameters: { commands, executionTimeout: [String(timeoutSeconds)] },
            TimeoutSeconds: timeoutSeconds,
            MaxConcurrency: rates.maxConcurrency,
            MaxErrors: rates.maxErrors
        }), { abortSignal: options.signal });
        const commandId = response.Command?.CommandId;
        if (!commandId)
            throw new errors/* ActionError */.lZ('ssm:SendCommand answered without a command id.');
        return commandId;
    }
    catch (error) {
        throwIfAborted(options.signal);
        const whom = batch ? `${batch.length} instances from ${batch[0]}` : describeIds(instanceIds);
        throw (0,errors/* describeAwsError */.Pp)(error, {
            action: 'ssm:SendCommand',
            subject: `${DOCUMENT} for ${whom}`,
            resource: SEND_RESOURCE
        });
    }
}
/** Waits until every instance's agent is Online; a fresh instance's registers after boot. */
async function waitForAgents(options, budget) {
    let notOnline;
    do {
        throwIfAborted(options.signal);
        notOnline = new Map(options.instanceIds.map(id => [id, 'not registered']));
        for (const batch of (0,instance/* chunks */.VN)(options.instanceIds, IDS_PER_FILTER)) {
            try {
                const pages = (0,dist_cjs.paginateDescribeInstanceInformation)({ client: options.ssm, pageSize: INSTANCE_INFO_PAGE }, { Filters: [{ Key: 'InstanceIds', Values: batch }] });
                for await (const page of pages) {
                    for (const info of page.InstanceInformationList ?? []) {
                        const id = info.InstanceId ?? '';
                        if (!notOnline.has(id))
                            continue;
                        if (info.PingStatus === 'Online')
                            notOnline.delete(id);
                        else
                            notOnline.set(id, `agent ${(0,log/* quoteUntrusted */.X0)(info.PingStatus ?? 'unknown', 40)}`);
                    }
                }
            }
            catch (error) {
                throwIfAborted(options.signal);
                throw (0,errors/* describeAwsError */.Pp)(error, {
                    action: 'ssm:DescribeInstanceInformation',
                    subject: describeIds(batch),
                    resource: '*'
                });
            }
        }
        if (notOnline.size === 0)
            return;
        core/* info */.pq(`Waiting for the SSM agent of ${notOnline.size} instance${notOnline.size > 1 ? 's' : ''} to be Online ` +
            `(${[...notOnline]
                .slice(0, 5)
                .map(([id, seen]) => `${id}: ${seen}`)
                .join(', ')}${notOnline.size > 5 ? ', ...' : ''}).`);
    } while (await budget.wait());
    throwIfAborted(options.signal);
    const listed = [...notOnline].slice(0, 20).map(([id, seen]) => `${id} (${seen})`);
    const more = notOnline.size > listed.length ? ` and ${notOnline.size - listed.length} more` : '';
    const subject = notOnline.size === 1
        ? `Instance ${listed[0]} is not an Online managed instance`
        : `Instances ${listed.join(', ')}${more} are not Online managed instances`;
    throw new errors/* ActionError */.lZ(`${subject} in SSM after ${options.timeoutSeconds} s (input "ssm-timeout"): ${AGENT_NEEDS}. ` +
        'Nothing was sent to any instance.');
}
/**
 * Polls every command's invocations (ListCommandInvocations with Details, every page: the cost
 * grows with pages, not instances) until all are final; commands already final are not asked again.
 */
async function waitForInvocations(options, commandIds, commandTimeoutMs) {
    const { signal } = options;
    const backoff = (0,src_backoff/* createBackoff */.l)({
        totalMs: commandTimeoutMs + REPORTING_GRACE_MS,
        initialDelayMs: 500,
        maxDelayMs: 10_000,
        sleep: abortableSleep(options.sleep, signal)
    });
    const expected = new Map((0,instance/* chunks */.VN)(options.instanceIds, command/* MAX_IDS_PER_COMMAND */.YQ).map((batch, i) => [
        commandIds[i],
        batch.length
    ]));
    // Each command's invocations as last listed; a command whose invocations are all final is done.
    const latest = new Map();
    const final = new Set();
    const cancelled = new Set();
    let lastCount = '';
    try {
        do {
            for (const commandId of commandIds) {
                if (final.has(commandId))
                    continue;
                const invocations = await listInvocations(options, commandId);
                latest.set(commandId, invocations);
                const done = invocations.filter(i => !RUNNING.has(i.Status ?? ''));
                if (invocations.length >= (expected.get(commandId) ?? 0) &&
                    done.length === invocations.length)
                    final.add(commandId);
            }
            const all = [...latest.values()].flat();
            if (final.size === commandIds.length)
                return all;
            const finished = all.filter(i => !RUNNING.has(i.Status ?? ''));
            const failures = finished.filter(i => i.Status !== 'Success').length;
            const allowed = (0,fleet/* allowedCount */.co)((0,fleet/* parseRate */.WN)(options.maxErrors), options.instanceIds.length);
            if (commandIds.length > 1 && failures > allowed) {
                // SSM stops each command at its own MaxErrors; across several commands, the action does
                // the same: what runs finishes, what has not started is cancelled.
                for (const [commandId, invocations] of latest) {
                    const pending = invocations
                        .filter(i => i.Status === 'Pending' && !cancelled.has(`${commandId}/${i.InstanceId}`))
                        .map(i => i.InstanceId ?? '');
                    if (pending.length === 0)
                        continue;
                    for (const id of pending)
                        cancelled.add(`${commandId}/${id}`);
                    await cancel(options.ssm, [commandId], 'more instances failed than max-errors allows', pending);
                }
            }
            const count = `${finished.length} of ${options.instanceIds.length} instances finished`;
            if (count !== lastCount)
                core/* info */.pq(`${count}; waiting.`);
            lastCount = count;
        } while (await backoff.wait());
    }
    catch (error) {
        if (signal?.aborted) {
            const running = commandIds.filter(id => !final.has(id));
            await cancel(options.ssm, running, 'the step was cancelled');
            throw new errors/* ActionError */.lZ(`The step was cancelled while the restart ran: sent CancelCommand for command ${running.join(', ')}. ` +
                'Instances that had already restarted stay restarted.');
        }
        throw error;
    }
    await cancel(options.ssm, commandIds.filter(id => !final.has(id)), 'the action stopped waiting');
    throw new errors/* ActionError */.lZ(`Run Command ${commandIds.join(', ')} did not finish within ${options.timeoutSeconds} s (input "ssm-timeout"); ` +
        'the action cancelled it. Raise "ssm-timeout", or check the instances with "aws ssm list-command-invocations".');
}
async function listInvocations(options, commandId) {
    const invocations = [];
    try {
        const pages = (0,dist_cjs.paginateListCommandInvocations)({ client: options.ssm, pageSize: command/* MAX_IDS_PER_COMMAND */.YQ }, { CommandId: commandId, Details: true });
        for await (const page of pages)
            invocations.push(...(page.CommandInvocations ?? []));
    }
    catch (error) {
        throwIfAborted(options.signal);
        // SSM is eventually consistent: a command just sent may not be listed yet; the next poll asks again.
        if (error.name === 'InvalidCommandId')
            return [];
        throw (0,errors/* describeAwsError */.Pp)(error, {
            action: 'ssm:ListCommandInvocations',
            subject: `command ${commandId}`,
            resource: '*'
        });
    }
    return invocations;
}
async function cancel(ssm, commandIds, why, instanceIds) {
    for (const commandId of commandIds) {
        try {
            await ssm.send(new dist_cjs.CancelCommandCommand({ CommandId: commandId, InstanceIds: instanceIds }));
            const which = instanceIds ? ` for the ${instanceIds.length} instances it had not started` : '';
            core/* warning */.$e(`Cancelled Run Command ${commandId}${which}: ${why}.`);
        }
        catch (error) {
            const message = (0,errors/* describeAwsError */.Pp)(error, {
                action: 'ssm:CancelCommand',
                subject: `command ${commandId}`,
                resource: '*'
            }).message;
            core/* warning */.$e(`Could not cancel Run Command ${commandId} (${why}): ${(0,log/* quoteUntrusted */.X0)(message)}`);
        }
    }
}
/** One collapsible log group per instance, and the results in instance id order. */
async function reportInstances(options, invocations) {
    const byId = new Map(invocations.map(i => [i.InstanceId ?? '', i]));
    const fetchAll = options.instanceIds.length <= FULL_OUTPUT_UP_TO;
    const results = [];
    let fetched = 0;
    for (const instanceId of options.instanceIds) {
        const invocation = byId.get(instanceId);
        const result = describeInvocation(instanceId, invocation);
        results.push(result);
        const worthFetching = (fetchAll || result.status !== 'Success') && fetched < MAX_FULL_OUTPUTS;
        if (invocation && worthFetching)
            fetched++;
        const output = invocation && worthFetching
            ? await fullOutput(options.ssm, invocation)
            : pluginOutput(invocation);
        (0,fleet/* printInstanceGroup */.EO)(result, output, options.write);
    }
    return results;
}
function describeInvocation(instanceId, invocation) {
    if (!invocation)
        return { instanceId, status: 'Missing' };
    const plugin = invocation.CommandPlugins?.[0];
    const detail = invocation.StatusDetails ?? '';
    const status = TELLING_DETAILS.has(detail) ? detail : (invocation.Status ?? 'unknown');
    const started = plugin?.ResponseStartDateTime?.getTime();
    const finished = plugin?.ResponseFinishDateTime?.getTime();
    const exitCode = plugin?.ResponseCode;
    return {
        instanceId,
        status: (0,log/* quoteUntrusted */.X0)(status, 40),
        exitCode: exitCode === undefined || exitCode < 0 ? undefined : exitCode,
        durationMs: started && finished && finished >= started ? finished - started : undefined
    };
}
/** What ListCommandInvocations already holds: SSM keeps its first 2,500 characters. */
function pluginOutput(invocation) {
    const text = invocation?.CommandPlugins?.[0]?.Output ?? '';
    const cut = text.includes(TRUNCATED) || text.length >= PLUGIN_OUTPUT_LIMIT;
    return {
        stdout: text.replace(TRUNCATED, '').trimEnd(),
        stderr: '',
        cut: cut
            ? `SSM kept only the first ${PLUGIN_OUTPUT_LIMIT} characters of this instance's output in the command listing`
            : undefined
    };
}
/** Both streams from GetCommandInvocation, which keeps 24,000 characters of each. */
async function fullOutput(ssm, invocation) {
    try {
        const response = await ssm.send(new dist_cjs.GetCommandInvocationCommand({
            CommandId: invocation.CommandId,
            InstanceId: invocation.InstanceId
        }));
        const stdout = response.StandardOutputContent ?? '';
        const stderr = response.StandardErrorContent ?? '';
        const cut = [stdout, stderr].some(text => text.length >= SSM_OUTPUT_LIMIT);
        return {
            stdout,
            stderr,
            cut: cut
                ? `SSM keeps only the first ${SSM_OUTPUT_LIMIT} characters of each stream; send the output to S3 or CloudWatch Logs to keep all of it`
                : undefined
        };
    }
    catch (error) {
        // The short output is still worth showing; the missing permission is worth saying.
        const reason = (0,errors/* describeAwsError */.Pp)(error, {
            action: 'ssm:GetCommandInvocation',
            subject: `the output of ${invocation.InstanceId}`,
            resource: '*'
        }).message;
        const short = pluginOutput(invocation);
        return { ...short, cut: `the full output could not be read: ${(0,log/* quoteUntrusted */.X0)(reason)}` };
    }
}
async function failureMessage(options, invocations, failed, allowed) {
    // The first that ran and failed says why; one cancelled before it ran has nothing to say.
    const culprit = failed.find(r => r.status !== 'Cancelled') ?? failed[0];
    const first = invocations.find(i => i.InstanceId === culprit.instanceId);
    const stderr = first ? await fullOutput(options.ssm, first) : undefined;
    const tail = new src_lines/* OutputTail */.gY();
    const text = stderr ? stderr.stderr || stderr.stdout : '';
    const splitter = new src_lines/* LineSplitter */.g3(line => tail.add(line));
    splitter.write(text);
    splitter.end();
    const lines = tail
        .lastLines(STDERR_LINES_IN_MESSAGE)
        .split('\n')
        .filter(line => line !== '')
        .map(line => `  ${(0,log/* quoteUntrusted */.X0)(line, 500)}`);
    const inspect = `"systemctl status ${options.service}" and "journalctl -u ${options.service}" on the instance`;
    return ((0,fleet/* beyondMaxErrors */.Nv)(options.service, failed, options.instanceIds.length, options.maxErrors, allowed) +
        (failed.some(r => r.status === 'Cancelled')
            ? 'The cancelled ones were not restarted: SSM stops once max-errors is exceeded. '
            : '') +
        `Run Command ${(0,log/* quoteUntrusted */.X0)(first?.CommandId ?? '', 80)}; check ${inspect}.` +
        (lines.length > 0 ? `\nLast output of ${culprit.instanceId}:\n${lines.join('\n')}` : ''));
}
function describeIds(ids) {
    return ids.length === 1 ? `instance ${ids[0]}` : `instances ${ids[0]} to ${ids[ids.length - 1]}`;
}
function throwIfAborted(signal) {
    if (signal?.aborted)
        throw new errors/* ActionError */.lZ('The step was cancelled before the restart was sent; nothing was restarted.');
}
/** A sleep that ends early, with an error, when the step is cancelled. */
function abortableSleep(sleep, signal) {
    if (!signal)
        return sleep;
    return ms => new Promise((resolve, reject) => {
        const onAbort = () => reject(new errors/* ActionError */.lZ('The step was cancelled.'));
        if (signal.aborted)
            return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        sleep(ms).then(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
        }, reject);
    });
}

;// CONCATENATED MODULE: ./src/ssm/phase.ts





/** The restart phase with restart: ssm, as the pipeline runs it. */
async function restartOverSsm(inputs, target, clients, deps, report) {
    // Without a deploy or targets, the one instance at the address the secret holds.
    const instanceIds = target.instances.length > 0
        ? target.instances.map(i => i.instanceId)
        : [
            await (0,instance/* instanceAtAddress */.XL)(await clients.ec2(), target.address, inputs.addressType, inputs.hostKey)
        ];
    const result = await restartWithRunCommand({
        ssm: await clients.ssm(),
        instanceIds,
        service: inputs.service,
        healthCommand: inputs.ssh.healthCommand,
        ...inputs.ssm,
        sleep: deps.sleep,
        signal: deps.signal
    });
    core/* setOutput */.uH(src_export/* OUTPUTS */.py.commandId, result.commandIds.join(','));
    report.fleet = { unit: inputs.service, commandIds: result.commandIds, results: result.results };
    if (result.failure)
        throw new errors/* ActionError */.lZ(result.failure);
    if (result.failed.length > 0)
        return;
    core/* setOutput */.uH(src_export/* OUTPUTS */.py.restarted, 'true');
    core/* info */.pq(`Restarted "${inputs.service}" on ${instanceIds.length} instance${instanceIds.length > 1 ? 's' : ''} with SSM Run Command.`);
}


/***/ })

};
