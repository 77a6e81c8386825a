export const id = 900;
export const ids = [900];
export const modules = {

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


/***/ })

};
