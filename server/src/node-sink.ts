// A stream written straight to its Node socket. Each frame is already an
// HTTP/1.1 chunk shared by every subscriber, so a delivery is one socket write
// of one shared buffer: no web stream to pump, no promise per chunk, no
// framing per subscriber.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Sink, SinkOwner } from './sink.js'
import type { Frame } from './sse.js'

/** The socket's own buffer may hold this much; beyond it, frames wait in the subscriber's queue. */
const HIGH_WATER_BYTES = 64 * 1024

export class NodeSink implements Sink {
  readonly #res: ServerResponse
  readonly #socket: Socket
  /** Chunked (HTTP/1.1), or delimited by closing the connection (HTTP/1.0). */
  readonly #chunked: boolean
  /** The response's own `end`, which only this sink calls. */
  readonly #end: () => void
  #ended = false

  /**
   * Sends the response head at once and returns the sink, or `undefined` when
   * the response cannot be written to directly (HTTP/2, or a pipelined
   * request whose turn has not come): those take the web stream path.
   */
  static open(
    req: IncomingMessage,
    res: ServerResponse,
    headers: readonly string[],
    owner: SinkOwner,
  ): NodeSink | undefined {
    if (req.httpVersionMajor !== 1 || !res.socket || res.headersSent) return undefined
    res.writeHead(200, 'OK', headers as string[])
    res.flushHeaders()
    // The route returns h3's "handled" marker at once, so that nothing of the
    // request (h3's event, srvx's request, their promises: about 2 KB) stays
    // alive for the stream's life; srvx then ends the response, as it does
    // for any answer. Only the sink may end a stream: that call is a no-op.
    const end = res.end.bind(res)
    res.end = (() => res) as ServerResponse['end']
    return new NodeSink(res, res.socket, end, owner)
  }

  private constructor(res: ServerResponse, socket: Socket, end: () => void, owner: SinkOwner) {
    this.#res = res
    this.#socket = socket
    this.#end = end
    // Node chose the framing when it sent the head.
    this.#chunked = res.chunkedEncoding
    const onDrain = () => owner.writable()
    socket.on('drain', onDrain)
    // Once the response is over, the socket may serve the next request: leave it as found.
    res.once('close', () => {
      socket.off('drain', onDrain)
      this.#ended = true
      owner.gone()
    })
  }

  get buffered(): number {
    return this.#socket.writableLength
  }

  get writable(): boolean {
    return !this.#ended && this.#socket.writableLength < HIGH_WATER_BYTES
  }

  write(frame: Frame): void {
    this.#socket.write(this.#chunked ? frame.chunk : frame.bytes)
  }

  writeAll(frames: readonly Frame[]): void {
    const socket = this.#socket
    socket.cork()
    for (const frame of frames) socket.write(this.#chunked ? frame.chunk : frame.bytes)
    socket.uncork()
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    // Node writes the last chunk; a keep-alive connection stays open for the next request.
    this.#end()
  }

  abort(): void {
    if (this.#ended) return
    this.#ended = true
    this.#res.destroy()
  }
}
