export const id = 818;
export const ids = [818];
export const modules = {

/***/ 4818:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   hostKeysFromConsole: () => (/* binding */ hostKeysFromConsole),
/* harmony export */   instanceByAddress: () => (/* binding */ instanceByAddress)
/* harmony export */ });
/* unused harmony export fingerprintsFromConsole */
/* harmony import */ var _aws_sdk_client_ec2__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(5193);
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8261);
/* harmony import */ var _backoff_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(2431);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3916);
/* harmony import */ var _restart_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(2876);





const FINGERPRINT = /SHA256:[A-Za-z0-9+/]{43}/g;
const PUBLIC_KEY = /\b(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,3})/g;
/**
 * The host key fingerprints cloud-init prints to the console at first boot, between
 * `-----BEGIN SSH HOST KEY FINGERPRINTS-----` and its END line, and the keys themselves between
 * `-----BEGIN SSH HOST KEY KEYS-----` and its END line (lines may carry an `ec2: ` prefix).
 */
function fingerprintsFromConsole(output) {
    const found = new Set();
    for (const block of sections(output, 'SSH HOST KEY FINGERPRINTS')) {
        for (const match of block.matchAll(FINGERPRINT))
            found.add(match[0]);
    }
    for (const block of sections(output, 'SSH HOST KEY KEYS')) {
        for (const match of block.matchAll(PUBLIC_KEY))
            found.add((0,_restart_js__WEBPACK_IMPORTED_MODULE_2__/* .sshFingerprint */ .dN)(Buffer.from(match[1], 'base64')));
    }
    return [...found];
}
function sections(output, title) {
    const pattern = new RegExp(`-----BEGIN ${title}-----([\\s\\S]*?)-----END ${title}-----`, 'g');
    return [...output.matchAll(pattern)].map(match => match[1]);
}
/**
 * Learns the instance's host keys from its console output, which only AWS and the instance's own
 * boot can write: a channel as trusted as the credentials, unlike the first key a host presents.
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
    do {
        let output = '';
        for (const latest of [...views]) {
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
            if (fingerprintsFromConsole(output).length > 0)
                break;
        }
        const fingerprints = fingerprintsFromConsole(output);
        if (fingerprints.length > 0) {
            _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`Host key fingerprints of ${instanceId} from its console output: ${fingerprints.join(', ')}`);
            return fingerprints;
        }
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`The console output of ${instanceId} has no SSH host keys yet; waiting.`);
    } while (await backoff.wait());
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`The console output of instance ${instanceId} showed no SSH host key fingerprints within ${Math.round(timeoutMs / 1000)} s ` +
        '(input "ssh-connect-timeout"). Pin the host key with input "ssh-host-fingerprint" (ssh-keygen -lf on the ' +
        "instance's /etc/ssh/ssh_host_ed25519_key.pub), or make sure cloud-init runs on the image.");
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
