export const id = 331;
export const ids = [331];
export const modules = {

/***/ 4331:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   runHostCommand: () => (/* binding */ runHostCommand)
/* harmony export */ });
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(3916);

/** `pallet run -- cmd ...`: a host command with the cleanroom services provided. */
async function runHostCommand(_args, _opts) {
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .UserError */ .yo('pallet run is not implemented yet');
}


/***/ })

};
