// A Vitest setup file for runs where test files share modules (`isolate:
// false`, the mutation runs): a module is imported by the first file that uses
// it only, so its cleanup hooks are registered again before each file here.
// See eachTestFile in harness.ts. Imported by the package's name, as the
// tests import it: under StrykerJS's sandbox a relative path would load a
// second copy of the harness, whose hooks close nothing the tests started.
import { registerEachFileHooks } from '@atomkv/test-support'

registerEachFileHooks()
