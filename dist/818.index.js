export const id = 818;
export const ids = [818];
export const modules = {

/***/ 4818:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   hostKeysFromConsole: () => (/* binding */ hostKeysFromConsole),
/* harmony export */   instanceByAddress: () => (/* binding */ instanceByAddress)
/* harmony export */ });
/* harmony import */ var _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(5193);
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(924);
/* harmony import */ var _backoff_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(2431);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3916);
/* harmony import */ var _ssh_fingerprint_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(242);
/* harmony import */ var _text_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(8992);






// After this many empty looks, the log says why the console is being read at all: an empty
// "ssh-host-fingerprint" (an unset variable is an empty string) is the usual reason.
const LOOKS_BEFORE_HINT = 2;
/**
 * Learns the instance's host keys from cloud-init's block in its console output, which the
 * instance prints at first boot and AWS serves to the credentials alone: unlike the first key a
 * host presents, a machine in the middle cannot choose it. What else may print there, and what is
 * refused for it, is in hostKeysFromConsoleOutput.
 */
async function hostKeysFromConsole(ec2, instanceId, timeoutMs, sleep) {
    const backoff = (0,_backoff_js__WEBPACK_IMPORTED_MODULE_3__/* .createBackoff */ .l)({
        totalMs: timeoutMs,
        initialDelayMs: 5000,
        maxDelayMs: 30000,
        sleep
    });
    // The latest output (Nitro only) shows a new instance's boot soonest; the buffered output still
    // holds the boot of an instance that has been up long enough for its latest output to scroll on.
    const views = [true, false];
    let looks = 0;
    do {
        let keys = [];
        for (const latest of [...views]) {
            let output;
            try {
                const response = await ec2.send(new _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_4__.GetConsoleOutputCommand({ InstanceId: instanceId, Latest: latest || undefined }));
                output = Buffer.from(response.Output ?? '', 'base64').toString('utf8');
            }
            catch (error) {
                if (latest && error.name === 'UnsupportedOperation') {
                    views.shift();
                    continue;
                }
                throw (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeAwsError */ .Pp)(error, {
                    action: 'ec2:GetConsoleOutput',
                    subject: `instance ${instanceId}`,
                    resource: `arn:aws:ec2:*:*:instance/${instanceId}`
                });
            }
            keys = (0,_ssh_fingerprint_js__WEBPACK_IMPORTED_MODULE_2__/* .hostKeysFromConsoleOutput */ .B_)(output, instanceId);
            if (keys.length > 0)
                break;
        }
        if (keys.length > 0) {
            const listed = keys.map(key => `${key.fingerprint} (${key.type})`).join(', ');
            _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`Host key fingerprints of ${instanceId} from its console output: ${listed}`);
            return keys;
        }
        looks++;
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(looks === LOOKS_BEFORE_HINT
            ? `The console output of ${instanceId} has no SSH host keys yet; waiting. Input ` +
                '"ssh-host-fingerprint" is empty, which is why the console is read: if you meant to ' +
                'pin the key, check that the variable or secret you pass to it is set.'
            : `The console output of ${instanceId} has no SSH host keys yet; waiting.`);
    } while (await backoff.wait());
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`The console output of instance ${instanceId} showed no SSH host key fingerprints within ${(0,_text_js__WEBPACK_IMPORTED_MODULE_5__/* .formatSeconds */ .X)(timeoutMs)} ` +
        '(input "ssh-connect-timeout"). Pin the host key with input "ssh-host-fingerprint" (ssh-keygen -lf on the ' +
        "instance's /etc/ssh/ssh_host_ed25519_key.pub), or make sure cloud-init runs on the image. Input " +
        '"ssh-host-fingerprint" was empty: if the workflow sets it from a variable or secret, check that it exists.');
}
/** The instance that has `address`: for a restart alone, where only the secret's address is known. */
async function instanceByAddress(ec2, address, addressType) {
    const filter = addressType === 'public' ? 'ip-address' : 'private-ip-address';
    let ids;
    try {
        const response = await ec2.send(new _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_4__.DescribeInstancesCommand({ Filters: [{ Name: filter, Values: [address] }] }));
        ids = (response.Reservations ?? [])
            .flatMap(r => r.Instances ?? [])
            .map(i => i.InstanceId ?? '')
            .filter(Boolean);
    }
    catch (error) {
        throw (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeAwsError */ .Pp)(error, {
            action: 'ec2:DescribeInstances',
            subject: `the instance at ${address}`,
            resource: '*'
        });
    }
    if (ids.length !== 1) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`No single EC2 instance has the ${addressType} address ${address}, so its host key cannot be read from its ` +
            'console output. Pin the host key with input "ssh-host-fingerprint".');
    }
    return ids[0];
}


/***/ })

};
