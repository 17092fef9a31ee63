export { waitFor, waitHttp, waitUntil, type Truthy, type WaitOptions } from '../../tools/support/wait-for';
