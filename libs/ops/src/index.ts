export { createOpsApp, logLevels, type OpsProbe } from './ops-app';
