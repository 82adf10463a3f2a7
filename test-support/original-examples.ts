// The original AtomKV README's Fibonacci example, verbatim, as script text:
// the client's vm test and the browser test both run this one copy.

export const ORIGINAL_FIBONACCI = `
async function init() {
    // Acceptably fails if already initialized
    AtomKV.update('/fib', [0, 1], 0)
}

async function increment() {
    for (;;) {
        let [[a, b], revision] = await AtomKV.get('/fib')
        let next = [b, a + b]
        if (await AtomKV.update('/fib', next, revision + 1)) {
            return next  // success
        }
    }
}
`
