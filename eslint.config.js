import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }]
    }
  },
  {
    // One way to log: every phase is given a Logger (src/lib/log.ts); only the action's entry
    // and that logger speak the runner's workflow commands.
    files: ['src/**/*.ts'],
    ignores: ['src/action/**', 'src/lib/log.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@actions/core',
              message:
                'Take a Logger (or StepOutputs) from src/lib/log.ts as a parameter; only src/action/ and src/lib/log.ts import @actions/core.'
            }
          ]
        }
      ]
    }
  },
  {
    // Functions a reader can hold in view; the command line's table of commands is one list.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/program.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }]
    }
  }
)
