export * from './records';
export { KLAVIYO_REVISION } from './klaviyo-revision';
