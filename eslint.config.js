// Type-aware linting: typescript-eslint's recommended type-checked rules over every TypeScript file.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.cache/**',
      'runtime-image/dist/**',
      '*.js',
      '*.cjs',
      'test/support/fixtures/packs/**/*.mjs',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The router's code runs per call: no accessor in an object literal and no function literal
    // assigned to a property. V8 allocates either in its old generation, and what the function's scope
    // holds (a call's every object) then lives until a full collection (docs/performance-router.md,
    // "Per-call objects kept until a full collection").
    files: ['router/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ObjectExpression > Property[kind='get'], ObjectExpression > Property[kind='set']",
          message:
            'An accessor in an object literal keeps its scope until a full collection: use a method or a function property.',
        },
        {
          selector:
            "AssignmentExpression[left.type='MemberExpression'][right.type=/^(ArrowFunctionExpression|FunctionExpression)$/]",
          message:
            'A function literal assigned to a property keeps its scope until a full collection: make it in a function that returns it.',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
