/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  setupFiles: ['<rootDir>/test/setup/quiet-runtime.ts'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
  verbose: true,
  // Stripe's keep-alive agent and gRPC channels linger after the last test of a file.
  forceExit: true,
};
