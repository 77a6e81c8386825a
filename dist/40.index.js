export const id = 40;
export const ids = [40];
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


/***/ })

};
