/**
 * The Klaviyo API revision this project speaks: the one contracts/klaviyo/*.json describe, sent
 * as the `revision` header on every request (KLAVIYO_REVISION overrides it at run time).
 */
export const KLAVIYO_REVISION = '2026-07-15';
