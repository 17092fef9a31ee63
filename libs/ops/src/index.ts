export { createOpsApp, logLevels, type OpsProbe } from './ops-app';
export { runWorker, type Worker } from './run-worker';
