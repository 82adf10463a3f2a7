// One Server-Sent Events client on a raw socket: the request is written by
// hand and the answer parsed here (head, HTTP/1.1 chunked framing, SSE lines),
// so thousands of them fit in one process and nothing between the socket and
// the figures (no fetch, no streams) adds its own cost or buffering.

import net from 'node:net'
import { StringDecoder } from 'node:string_decoder'

const CRLF = Buffer.from('\r\n')
const HEAD_END = Buffer.from('\r\n\r\n')

/**
 * Opens `GET path` with `Accept: text/event-stream` on 127.0.0.1:port.
 * Callbacks get the moment the socket read the bytes (process.hrtime.bigint()):
 * - onComment(text, at): a comment line (":ok" once the stream is live);
 * - onEvent({ event, id, data }, at): each complete event;
 * - onError(error): a bad answer, or the connection closed early.
 * Returns the socket (destroy it to close the stream).
 */
export function openStream({ port, path, onComment, onEvent, onError }) {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.setNoDelay(true)
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`)

  let head = Buffer.alloc(0) // until the head has been read, then null
  let chunked = false
  let pending = Buffer.alloc(0) // chunked framing not yet decoded
  let state = 'size' // reading a chunk's size line, its 'payload', or the 'crlf' after it
  let left = 0 // bytes left of the payload or crlf
  let done = false
  const decoder = new StringDecoder('utf8') // a character split across chunks stays whole
  let line = '' // an SSE line not yet ended
  let event = { event: '', id: undefined, data: [] }

  const fail = (message) => {
    if (done) return
    done = true
    socket.destroy()
    onError?.(new Error(`${path}: ${message}`))
  }

  /** SSE lines (https://html.spec.whatwg.org/multipage/server-sent-events.html), `\n` or `\r\n` ended. */
  function text(bytes, at) {
    const input = line + decoder.write(bytes)
    let start = 0
    for (let end; (end = input.indexOf('\n', start)) !== -1; start = end + 1) {
      let field = input.slice(start, end)
      if (field.endsWith('\r')) field = field.slice(0, -1)
      if (field === '') {
        if (event.data.length > 0 || event.event) {
          onEvent?.({ event: event.event || 'message', id: event.id, data: event.data.join('\n') }, at)
        }
        event = { event: '', id: undefined, data: [] }
      } else if (field.startsWith(':')) {
        onComment?.(field.slice(1), at)
      } else {
        const colon = field.indexOf(':')
        const name = colon === -1 ? field : field.slice(0, colon)
        let value = colon === -1 ? '' : field.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        if (name === 'data') event.data.push(value)
        else if (name === 'event') event.event = value
        else if (name === 'id') event.id = value
      }
    }
    line = input.slice(start)
  }

  /** Chunked transfer coding: `hex-size\r\n payload \r\n`, repeated; any part may arrive split across reads. */
  function dechunk(bytes, at) {
    pending = pending.length > 0 ? Buffer.concat([pending, bytes]) : bytes
    while (pending.length > 0) {
      if (state === 'size') {
        const eol = pending.indexOf(CRLF)
        if (eol === -1) return // the size line is not complete yet
        const sizeLine = pending.subarray(0, eol).toString('latin1')
        const size = parseInt(sizeLine, 16)
        if (!Number.isFinite(size)) return fail(`bad chunk size line ${JSON.stringify(sizeLine)}`)
        if (size === 0) return fail('the stream ended')
        pending = pending.subarray(eol + 2)
        state = 'payload'
        left = size
      } else {
        const take = Math.min(left, pending.length)
        if (state === 'payload') text(pending.subarray(0, take), at)
        pending = pending.subarray(take)
        left -= take
        if (left > 0) continue
        // After the payload comes its CRLF, then the next size line.
        if (state === 'payload') [state, left] = ['crlf', 2]
        else state = 'size'
      }
    }
  }

  socket.on('data', (bytes) => {
    const at = process.hrtime.bigint()
    if (head !== null) {
      head = Buffer.concat([head, bytes])
      const end = head.indexOf(HEAD_END)
      if (end === -1) return
      const lines = head.subarray(0, end).toString('latin1').split('\r\n')
      const status = Number(lines[0].split(' ')[1])
      if (status !== 200) return fail(`answered ${lines[0]}`)
      chunked = lines.some((l) => /^transfer-encoding:\s*chunked\s*$/i.test(l))
      bytes = head.subarray(end + 4)
      head = null
      if (bytes.length === 0) return
    }
    if (chunked) dechunk(bytes, at)
    else text(bytes, at)
  })
  socket.on('error', (error) => fail(error.message))
  socket.on('close', () => fail('the connection closed'))
  socket.finish = () => {
    done = true
    socket.destroy()
  }
  return socket
}
