// Test tiers by suffix: *.spec.ts (no I/O), *.integration-spec.ts (real broker and registry),
// *.e2e-spec.ts (the three apps together).
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/tools', '<rootDir>/test', '<rootDir>/chaos'],
};

module.exports = {
  testTimeout: 120000,
  // npm test runs two shards side by side (scripts/test.sh), balanced by the suites' seconds
  testSequencer: '<rootDir>/test/balanced-sequencer.js',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['**/*.spec.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['**/*.integration-spec.ts'],
      globalSetup: '<rootDir>/test/services.global-setup.js',
      globalTeardown: '<rootDir>/test/services.global-teardown.js',
      maxWorkers: 1,
    },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/services.global-setup.js',
      globalTeardown: '<rootDir>/test/services.global-teardown.js',
      maxWorkers: 1,
    },
  ],
};
