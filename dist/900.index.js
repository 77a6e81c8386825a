export const id = 900;
export const ids = [900];
export const modules = {

/***/ 2900:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   findInstanceId: () => (/* binding */ findInstanceId),
/* harmony export */   waitForAddress: () => (/* binding */ waitForAddress)
/* harmony export */ });
/* harmony import */ var _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(5193);
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8261);
/* harmony import */ var _backoff_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(2431);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3916);
/* harmony import */ var _log_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(5625);





const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const describeCall = (subject) => ({
    action: 'ec2:DescribeInstances',
    subject,
    resource: '*'
});
/**
 * The instance the stack deployed: the output named by `instance-id-output`, else the one output
 * that holds an instance id, else the one running instance CloudFormation tagged with the stack.
 */
async function findInstanceId(ec2, stack, stackOutputs, instanceIdOutput) {
    if (instanceIdOutput !== '') {
        const value = stackOutputs[instanceIdOutput];
        if (value === undefined) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Stack "${stack}" has no output "${instanceIdOutput}" (input "instance-id-output"); its outputs are ${listOrNone(Object.keys(stackOutputs))}.`);
        }
        if (!INSTANCE_ID.test(value)) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Output "${instanceIdOutput}" of stack "${stack}" is "${(0,_log_js__WEBPACK_IMPORTED_MODULE_2__/* .quoteUntrusted */ .X0)(value, 200)}", not an instance id (i-...).`);
        }
        return value;
    }
    const candidates = Object.entries(stackOutputs).filter(([, value]) => INSTANCE_ID.test(value));
    if (candidates.length === 1)
        return candidates[0][1];
    if (candidates.length > 1) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Stack "${stack}" has several outputs that hold instance ids (${listOrNone(candidates.map(([key]) => key))}): ` +
            'name the one to use with input "instance-id-output".');
    }
    let instances;
    try {
        const response = await ec2.send(new _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_3__.DescribeInstancesCommand({
            Filters: [
                { Name: 'tag:aws:cloudformation:stack-name', Values: [stack] },
                { Name: 'instance-state-name', Values: ['running'] }
            ]
        }));
        instances = (response.Reservations ?? []).flatMap(r => r.Instances ?? []);
    }
    catch (error) {
        throw (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeAwsError */ .Pp)(error, describeCall(`the instances of stack "${stack}"`));
    }
    const ids = instances.map(instance => instance.InstanceId ?? '').filter(id => id !== '');
    if (ids.length === 1)
        return ids[0];
    if (ids.length === 0) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Found no instance for stack "${stack}": it has no output holding an instance id and no running instance is ` +
            'tagged aws:cloudformation:stack-name with its name. Add a CfnOutput of instance.instanceId and name it in "instance-id-output".');
    }
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Stack "${stack}" has ${ids.length} running instances (${ids.join(', ')}): name the one to restart with a stack ` +
        'output and input "instance-id-output".');
}
const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);
/** Waits until the instance is running and has the address asked for, within the time budget. */
async function waitForAddress(ec2, instanceId, addressType, timeoutMs, sleep) {
    const backoff = (0,_backoff_js__WEBPACK_IMPORTED_MODULE_4__/* .createBackoff */ .l)({ totalMs: timeoutMs, initialDelayMs: 2000, sleep });
    let lastSeen = 'not found';
    do {
        const instance = await describeInstance(ec2, instanceId);
        if (instance) {
            const state = instance.State?.Name ?? 'unknown';
            if (GONE.has(state)) {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Instance ${instanceId} is ${state}, so it cannot be reached; check the stack's events in CloudFormation.`);
            }
            const address = addressType === 'public' ? instance.PublicIpAddress : instance.PrivateIpAddress;
            if (state === 'running' && address)
                return { instanceId, address };
            lastSeen = state === 'running' ? `running without a ${addressType} address` : state;
        }
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`Instance ${instanceId} is ${lastSeen}; waiting.`);
    } while (await backoff.wait());
    const hint = lastSeen === `running without a public address`
        ? ' Give it a public IP (a public subnet with auto-assign, or an Elastic IP), or set address-type: private.'
        : '';
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`Instance ${instanceId} was still ${lastSeen} after ${Math.round(timeoutMs / 1000)} s (input "instance-timeout").${hint}`);
}
/** The instance, or undefined while EC2 does not know the id yet (it is eventually consistent). */
async function describeInstance(ec2, instanceId) {
    try {
        const response = await ec2.send(new _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_3__.DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        return response.Reservations?.[0]?.Instances?.[0];
    }
    catch (error) {
        if (error.name === 'InvalidInstanceID.NotFound')
            return undefined;
        throw (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeAwsError */ .Pp)(error, describeCall(`instance ${instanceId}`));
    }
}
/** Output names come from the CDK app: quoted as untrusted text, and only the first few. */
function listOrNone(names) {
    if (names.length === 0)
        return 'none';
    const shown = names.slice(0, 20).map(name => `"${(0,_log_js__WEBPACK_IMPORTED_MODULE_2__/* .quoteUntrusted */ .X0)(name, 200)}"`);
    return names.length > shown.length
        ? `${shown.join(', ')} and ${names.length - shown.length} more`
        : shown.join(', ');
}


/***/ })

};
