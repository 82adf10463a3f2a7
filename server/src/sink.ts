// Where a stream's bytes go. A subscriber hands frames to its sink only while
// the sink is writable, so the only buffer that grows for a slow reader is the
// subscriber's own queue (which is capped) plus what the sink holds (counted).

import type { Frame } from './sse.js'

export interface Sink {
  /** Bytes handed over that the reader has not taken yet. */
  readonly buffered: number
  /** Whether the sink takes more now; when it does not, it calls {@link SinkOwner.writable} once it does. */
  readonly writable: boolean
  /** Hands over one frame. */
  write(frame: Frame): void
  /** Hands over frames, in order. */
  writeAll(frames: readonly Frame[]): void
  /** Ends the stream after what was handed over; calls {@link SinkOwner.gone} once the reader has taken it all. */
  end(): void
  /** Drops the connection at once. */
  abort(reason: Error): void
}

export interface SinkOwner {
  /** The sink takes more now. */
  writable(): void
  /** The reader went away. */
  gone(): void
}

/**
 * A web `ReadableStream`: for the `fetch` handler and runtimes other than
 * Node. It pulls; nothing is buffered inside the stream (`highWaterMark: 0`).
 */
export class WebSink implements Sink {
  readonly stream: ReadableStream<Uint8Array>
  readonly buffered = 0
  readonly #owner: SinkOwner
  #controller!: ReadableStreamDefaultController<Uint8Array>
  #waiting = false

  constructor(owner: SinkOwner) {
    this.#owner = owner
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller
        },
        pull: () => {
          this.#waiting = true
          owner.writable()
        },
        cancel: () => owner.gone(),
      },
      { highWaterMark: 0 },
    )
  }

  get writable(): boolean {
    return this.#waiting
  }

  write(frame: Frame): void {
    this.#waiting = false
    this.#controller.enqueue(frame.bytes)
  }

  writeAll(frames: readonly Frame[]): void {
    this.#waiting = false
    this.#controller.enqueue(frames.length === 1 ? frames[0]!.bytes : join(frames))
  }

  end(): void {
    try {
      this.#controller.close()
    } catch {
      // Already closed by the reader.
    }
    // Frames are enqueued only when pulled: the reader already has everything.
    this.#owner.gone()
  }

  abort(reason: Error): void {
    this.#controller.error(reason)
  }
}

function join(frames: readonly Frame[]): Uint8Array {
  let size = 0
  for (const frame of frames) size += frame.bytes.byteLength
  const joined = new Uint8Array(size)
  let offset = 0
  for (const frame of frames) {
    joined.set(frame.bytes, offset)
    offset += frame.bytes.byteLength
  }
  return joined
}
