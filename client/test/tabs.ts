// Browser tabs in one Node process, for the tab-sharing tests: Node has
// BroadcastChannel (the real one, which delivers between instances of one
// thread) but no Web Locks, so `Browser` holds an exclusive, first-come
// lock manager with the semantics the sharing relies on: a lock waits for
// its holder, a waiting request can be aborted, and a tab that vanishes
// lets go of what it held. The real browser runs the e2e tests.

import type { TabEnvironment } from '../src/tabs/environment.js'

interface Request {
  tab: Tab
  callback: () => Promise<void>
  resolve(value: unknown): void
  reject(error: unknown): void
}

export class Browser {
  readonly #waiting = new Map<string, Request[]>()
  readonly #held = new Map<string, Request>()

  /** A new tab: an environment whose locks and channels die with it. */
  tab(): Tab {
    return new Tab(this)
  }

  /** Names of the locks held, for assertions. */
  held(): string[] {
    return [...this.#held.keys()]
  }

  request(tab: Tab, name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const { signal } = options
      if (signal?.aborted) return reject(abortError())
      if (tab.crashed) return // a vanished tab's requests never settle
      const request: Request = { tab, callback, resolve, reject }
      let queue = this.#waiting.get(name)
      if (!queue) this.#waiting.set(name, (queue = []))
      queue.push(request)
      signal?.addEventListener(
        'abort',
        () => {
          const index = this.#waiting.get(name)?.indexOf(request) ?? -1
          if (index === -1) return
          this.#waiting.get(name)!.splice(index, 1)
          reject(abortError())
        },
        { once: true },
      )
      this.#grant(name)
    })
  }

  /** Lets go of every lock `tab` holds or waits for, as a browser does when a tab closes. */
  release(tab: Tab): void {
    for (const [name, queue] of this.#waiting) this.#waiting.set(name, queue.filter((r) => r.tab !== tab))
    for (const [name, request] of [...this.#held]) {
      if (request.tab === tab) {
        this.#held.delete(name)
        this.#grant(name)
      }
    }
  }

  #grant(name: string): void {
    if (this.#held.has(name)) return
    const request = this.#waiting.get(name)?.shift()
    if (!request) return
    this.#held.set(name, request)
    // Granted asynchronously, as in a browser.
    setTimeout(() => {
      if (this.#held.get(name) !== request) return // its tab vanished meanwhile
      Promise.resolve()
        .then(request.callback)
        .then(request.resolve, request.reject)
        .finally(() => {
          if (this.#held.get(name) !== request) return
          this.#held.delete(name)
          this.#grant(name)
        })
    })
  }
}

export class Tab {
  crashed = false
  readonly #channels = new Set<BroadcastChannel>()
  readonly env: TabEnvironment

  constructor(readonly browser: Browser) {
    const tab = this
    const channels = this.#channels
    this.env = {
      locks: { request: (name, options, callback) => browser.request(tab, name, options, callback) },
      BroadcastChannel: class extends BroadcastChannel {
        constructor(name: string) {
          super(name)
          channels.add(this)
        }
        override postMessage(message: unknown): void {
          if (!tab.crashed) super.postMessage(message)
        }
        override close(): void {
          channels.delete(this)
          super.close()
        }
      } as unknown as TabEnvironment['BroadcastChannel'],
    }
  }

  /** The tab vanishes: its channels go quiet and its locks are released, with no goodbye. */
  crash(): void {
    this.crashed = true
    for (const channel of this.#channels) {
      channel.onmessage = null
      channel.close()
    }
    this.browser.release(this)
  }
}

function abortError(): Error {
  return new DOMException('The request was aborted.', 'AbortError')
}
