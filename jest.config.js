// Two suites. `unit`: the modules and the local AWS endpoint in this process, fast. `integration`:
// whatever starts an SSH server, the bundle or the workflows' own steps. `npm test` runs both;
// `npm run test:unit` and `npm run test:integration` run one (jest --selectProjects).
const INTEGRATION = ['e2e-*.test.ts', 'cli*.test.ts', 'restart.test.ts', 'stand-ins.test.ts']

/** @type {import('jest').Config} */
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  // The checkout's own cache, not one in the system temp folder that other checkouts share.
  cacheDirectory: '<rootDir>/node_modules/.cache/jest'
}

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      testPathIgnorePatterns: [
        '/node_modules/',
        ...INTEGRATION.map(
          glob => `/__tests__/${glob.replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`
        )
      ]
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: INTEGRATION.map(glob => `<rootDir>/__tests__/${glob}`),
      // Says once which SSH server the tests use, and fails early under REQUIRE_OPENSSH=1.
      globalSetup: '<rootDir>/test-support/jest-ssh-server.js'
    }
  ],
  // Integration tests start sshd, child processes and HTTP endpoints: give them room on 2 cores.
  // (Read from the top level only, not from projects.)
  testTimeout: 60000,
  collectCoverageFrom: ['src/**/*.ts'],
  coverageReporters: ['text-summary', 'lcov']
}
