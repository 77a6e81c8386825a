export const id = 222;
export const ids = [222];
export const modules = {

/***/ 222:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  readConfigParameters: () => (/* binding */ readConfigParameters)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 14 modules
var core = __webpack_require__(924);
// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-ssm/dist-cjs/index.js
var dist_cjs = __webpack_require__(4736);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(3916);
// EXTERNAL MODULE: ./src/export.ts
var src_export = __webpack_require__(5169);
// EXTERNAL MODULE: ./src/secrets.ts + 1 modules
var secrets = __webpack_require__(9036);
;// CONCATENATED MODULE: ./src/iam-policy.ts

/** The IAM resource that covers a Parameter Store path and every parameter under it. */
function parameterResource(path) {
    return `arn:aws:ssm:*:*:parameter${path.replace(/\/+$/, '')}*`;
}
/** Input `restart` as the methods it uses. */
function restartMethods(restart) {
    return restart === 'none' ? [] : [restart];
}
const DEFAULT_POLICY_SETTINGS = {
    deploymentSecret: (0,secrets/* secretResource */.x6)('FastAPIDeploymentSecrets'),
    appSecret: (0,secrets/* secretResource */.x6)('FastAPIAppSecrets'),
    deploy: true,
    restarts: ['ssh']
};
/** What the README shows: a deploy with either restart, the SSM statements marked as optional. */
const README_POLICY_SETTINGS = {
    ...DEFAULT_POLICY_SETTINGS,
    restarts: ['ssh', 'ssm'],
    configPath: '/fastapi/staging/'
};
const one = (items) => (items.length === 1 ? items[0] : items);
/**
 * The least-privilege policy the action needs for these settings: the one source of the
 * `iam-policy` command and the README's "IAM policy" section (a test holds them equal).
 */
function iamPolicy(settings) {
    const statements = [
        {
            Sid: 'ReadBothSecrets',
            Effect: 'Allow',
            Action: 'secretsmanager:GetSecretValue',
            Resource: one([settings.appSecret, settings.deploymentSecret].filter(Boolean).sort())
        }
    ];
    if (settings.deploy) {
        statements.push({
            Sid: 'WriteTheAddressBack',
            Effect: 'Allow',
            Action: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
            Resource: settings.deploymentSecret
        });
    }
    // Deploying finds the instance (DescribeInstances); an SSH restart learns the host key from the
    // instance's console when no fingerprint is pinned (GetConsoleOutput).
    const ssh = settings.restarts.includes('ssh');
    const ec2 = [
        ...(settings.deploy || ssh ? ['ec2:DescribeInstances'] : []),
        ...(ssh ? ['ec2:GetConsoleOutput'] : [])
    ];
    if (ec2.length > 0) {
        statements.push({
            Sid: ssh ? 'FindTheInstanceAndItsHostKey' : 'FindTheInstance',
            Effect: 'Allow',
            Action: one(ec2),
            Resource: '*'
        });
    }
    if (settings.restarts.includes('ssm')) {
        statements.push({
            Sid: 'RestartWithRunCommand',
            Effect: 'Allow',
            Action: 'ssm:SendCommand',
            Resource: ['arn:aws:ssm:*:*:document/AWS-RunShellScript', 'arn:aws:ec2:*:*:instance/*']
        }, {
            Sid: 'FollowTheRunCommand',
            Effect: 'Allow',
            Action: [
                'ssm:DescribeInstanceInformation',
                'ssm:ListCommandInvocations',
                'ssm:GetCommandInvocation',
                'ssm:CancelCommand'
            ],
            Resource: '*'
        });
    }
    if (settings.configPath) {
        statements.push({
            Sid: 'ReadTheConfiguration',
            Effect: 'Allow',
            Action: 'ssm:GetParametersByPath',
            Resource: parameterResource(settings.configPath)
        }, {
            // SecureString parameters under a customer managed key; only through Parameter Store.
            Sid: 'DecryptSecureStringParameters',
            Effect: 'Allow',
            Action: 'kms:Decrypt',
            Resource: '*',
            Condition: { StringLike: { 'kms:ViaService': 'ssm.*.amazonaws.com' } }
        });
    }
    return { Version: '2012-10-17', Statement: statements };
}

// EXTERNAL MODULE: ./src/log.ts
var log = __webpack_require__(5625);
;// CONCATENATED MODULE: ./src/config.ts






/**
 * Loaded only when input "config-path" is set (it brings the SSM client). Reads every parameter under `path` (GetParametersByPath, recursive, decrypted, every page) and
 * names each by its path below `path`, "/" turned into "_". SecureString values are masked as soon
 * as a page arrives; String and StringList values stay readable. A name that cannot be a step
 * output, two parameters with one name, or a name taken by the deployment secret or the action
 * is an error that names the parameters.
 */
async function readConfigParameters(ssm, path, secretKeys) {
    const base = path.endsWith('/') ? path : `${path}/`;
    const values = {};
    const sources = {};
    const unmasked = [];
    try {
        const pages = (0,dist_cjs.paginateGetParametersByPath)({ client: ssm }, { Path: path.replace(/(.)\/+$/, '$1'), Recursive: true, WithDecryption: true });
        for await (const page of pages) {
            for (const parameter of page.Parameters ?? []) {
                const name = parameter.Name ?? '';
                const value = parameter.Value ?? '';
                if (parameter.Type === 'SecureString') {
                    (0,log/* maskSecret */.$l)(value);
                    if ((0,log/* unmaskableReason */.gG)(value))
                        unmasked.push(`"${name}" (${(0,log/* unmaskableReason */.gG)(value)})`);
                }
                const output = outputName(name, base);
                const other = sources[output];
                if (other !== undefined) {
                    const [first, second] = [other, name].sort();
                    throw new errors/* ActionError */.lZ(`Parameters "${(0,log/* quoteUntrusted */.X0)(first, 300)}" and "${(0,log/* quoteUntrusted */.X0)(second, 300)}" under input "config-path" (${path}) ` +
                        `both become the output "${output}". Rename one of them in Parameter Store.`);
                }
                sources[output] = name;
                values[output] = value;
            }
        }
    }
    catch (error) {
        if (error instanceof errors/* ActionError */.lZ)
            throw error;
        throw explainError(error, path);
    }
    if (unmasked.length > 0) {
        core/* warning */.$e(`SecureString parameter${unmasked.length > 1 ? 's' : ''} ${unmasked.join(', ')} under input "config-path" ` +
            'cannot be masked in the log: masking it would hide that text everywhere and drop job outputs that contain it. ' +
            'Store it as a String if it is not secret.');
    }
    checkNames(sources, path, secretKeys);
    return { path, values, sources };
}
/** "/fastapi/staging/db/host" under "/fastapi/staging/" -> "db_host". */
function outputName(name, base) {
    const relative = name.startsWith(base) ? name.slice(base.length) : name.replace(/^\//, '');
    return relative.replace(/\//g, '_');
}
function checkNames(sources, path, secret) {
    for (const [output, name] of Object.entries(sources)) {
        const parameter = `Parameter "${(0,log/* quoteUntrusted */.X0)(name, 300)}" under input "config-path" (${path})`;
        if (!src_export/* OUTPUT_NAME */.ib.test(output)) {
            throw new errors/* ActionError */.lZ(`${parameter} would become the output "${(0,log/* quoteUntrusted */.X0)(output, 300)}", which cannot be a step output name: ` +
                'use letters, digits, "_" and "-" below the path, starting with a letter or "_". Rename the parameter.');
        }
        if (src_export/* ACTION_OUTPUTS */.c6.includes(output)) {
            throw new errors/* ActionError */.lZ(`${parameter} would become the output "${output}", which is also an output of this action ` +
                `(${src_export/* ACTION_OUTPUTS */.c6.join(', ')}). Rename the parameter.`);
        }
        if (secret.keys.includes(output)) {
            throw new errors/* ActionError */.lZ(`${parameter} would become the output "${output}", which the deployment secret "${secret.secretId}" also has ` +
                'as a key: one would override the other. Rename the parameter or the key.');
        }
    }
}
function explainError(error, path) {
    const resource = parameterResource(path);
    const call = {
        action: 'ssm:GetParametersByPath',
        subject: `the parameters under "${path}" (input "config-path")`,
        resource
    };
    const name = (0,errors/* awsErrorName */.ZH)(error);
    if (!(0,errors/* isKmsDenial */.NS)(error) && /^(AccessDeniedException|AccessDenied)$/.test(name)) {
        return new errors/* ActionError */.lZ(`Access denied: ssm:GetParametersByPath on the parameters under "${path}" (input "config-path"). Allow ` +
            `"ssm:GetParametersByPath" on "${resource}", and "kms:Decrypt" on the KMS key of SecureString parameters ` +
            'encrypted with a customer managed key, in the policy of the role or user the workflow runs as (see "IAM policy" in the README).');
    }
    return (0,errors/* describeAwsError */.Pp)(error, call);
}


/***/ })

};
