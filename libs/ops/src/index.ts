export { createOpsApp, type OpsProbe } from './ops-app';
