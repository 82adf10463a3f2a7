// A Vitest setup file for runs where test files share modules (`isolate:
// false`, the mutation runs): a module is imported by the first file that uses
// it only, so its cleanup hooks are registered again before each file here.
// See eachTestFile in harness.ts.
import { registerEachFileHooks } from './harness.js'

registerEachFileHooks()
