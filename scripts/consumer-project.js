// The tsconfig of a small project that uses our packages as an app would:
// what check-readme.js and check-packages.js type-check their code with.

/** `skipLibCheck: false` checks the packages' own .d.ts too. */
export function consumerTsconfig({ skipLibCheck, include }) {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023', 'DOM', 'DOM.Iterable'],
      types: ['node'],
      jsx: 'react-jsx',
      strict: true,
      noEmit: true,
      skipLibCheck,
    },
    ...(include && { include }),
  })
}
