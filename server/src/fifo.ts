/**
 * A first-in first-out queue with O(1) shift and indexed reads. Shifting a
 * plain array is O(n); this keeps a head index and compacts once the spent
 * slots make up half the array.
 */
export class Fifo<T> {
  #items: Array<T | undefined> = []
  #head = 0

  get size(): number {
    return this.#items.length - this.#head
  }

  get empty(): boolean {
    return this.#head === this.#items.length
  }

  /** Slots of the backing array, spent ones included: what the queue holds in memory (for tests). */
  get capacity(): number {
    return this.#items.length
  }

  push(item: T): void {
    this.#items.push(item)
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined
    if (this.#head === this.#items.length) this.clear()
    else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** The item `index` places from the front (`0` is the oldest); `undefined` outside the queue. */
  at(index: number): T | undefined {
    return index >= 0 && index < this.size ? this.#items[this.#head + index] : undefined
  }

  /** The newest item. */
  last(): T | undefined {
    return this.at(this.size - 1)
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!
  }
}
