export const id = 40;
export const ids = [40];
export const modules = {

/***/ 6040:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   WN: () => (/* binding */ parseRate),
/* harmony export */   YQ: () => (/* binding */ MAX_IDS_PER_COMMAND),
/* harmony export */   co: () => (/* binding */ allowedCount),
/* harmony export */   i$: () => (/* binding */ batchRates),
/* harmony export */   restartScript: () => (/* binding */ restartScript)
/* harmony export */ });
/* harmony import */ var shell_quote__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(6591);
/* harmony import */ var _ssh_validate_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(8514);


/** SSM's limit of instance ids in one SendCommand. */
const MAX_IDS_PER_COMMAND = 50;
/**
 * The lines AWS-RunShellScript runs as root on every instance: the restart of the unit, then its
 * check. Built from the validated unit name and the workflow's own health command, each quoted as
 * one word, never from text out of a secret.
 */
function restartScript(service, healthCommand) {
    (0,_ssh_validate_js__WEBPACK_IMPORTED_MODULE_1__/* .checkServiceName */ .PV)(service);
    const restart = (0,shell_quote__WEBPACK_IMPORTED_MODULE_0__.quote)(['systemctl', 'restart', '--', service]);
    const check = healthCommand
        ? (0,shell_quote__WEBPACK_IMPORTED_MODULE_0__.quote)(['sh', '-c', healthCommand])
        : (0,shell_quote__WEBPACK_IMPORTED_MODULE_0__.quote)(['systemctl', 'is-active', '--', service]);
    // One line: AWS-RunShellScript goes on after a failed line, and the check must not run then.
    return [`${restart} && ${check}`];
}
function parseRate(text) {
    return { value: Number(text.replace('%', '')), percent: text.endsWith('%') };
}
/** How many of `total` instances a rate allows (SSM rounds a percentage down). */
function allowedCount(rate, total) {
    return rate.percent ? Math.floor((rate.value * total) / 100) : rate.value;
}
/**
 * A fleet larger than one SendCommand allows goes out as several commands at once. A percentage
 * means the same in each; a count of concurrent instances is shared out by the batches' sizes, so
 * that together they never run more than asked (at least one each). Errors are counted over the
 * whole fleet by the action, so each batch gets the whole allowance and the action cancels the
 * rest when the fleet exceeds it.
 */
function batchRates(maxConcurrency, maxErrors, batchSize, total) {
    const concurrency = parseRate(maxConcurrency);
    if (concurrency.percent || batchSize === total)
        return { maxConcurrency, maxErrors };
    const share = Math.max(1, Math.floor((concurrency.value * batchSize) / total));
    return { maxConcurrency: String(share), maxErrors };
}


/***/ })

};
