// Reading a write's JSON body: at most `limit` bytes, by the declared
// Content-Length and by the bytes actually read (a chunked body cannot get
// past it), then parsed and re-serialized once. On Node the body is read from
// the Node request itself; a web stream over it would cost a stream and a
// promise per chunk.

import { isUtf8 } from 'node:buffer'
import type { Readable } from 'node:stream'
import type { H3Event } from 'h3'
import { Refusal } from './reply.js'

type Bytes = Uint8Array | 'too-large' | 'unreadable'

/** The body's JSON, re-serialized; throws a {@link Refusal} (400, 413) when it is not acceptable. */
export async function readJSON(event: H3Event, limit: number, maxDepth: number): Promise<string> {
  const declared = Number(event.req.headers.get('content-length') ?? 0)
  const node = event.runtime?.node?.req
  const bytes = declared > limit ? 'too-large' : node ? await readNode(node, limit) : await readWeb(event.req, limit)
  if (bytes === 'too-large') {
    // The rest of the body is not read: close the connection rather than drain it.
    throw new Refusal(413, `the body is larger than ${limit} bytes`, ['connection', 'close'])
  }
  // The client went away mid-body; nobody will read this answer.
  if (bytes === 'unreadable') throw new Refusal(400, 'the body could not be read')
  if (bytes.byteLength === 0) throw new Refusal(400, 'the body is empty; expected JSON')
  if (!isUtf8(bytes)) throw new Refusal(400, 'the body is not valid UTF-8')
  return parseJSON(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), maxDepth)
}

/** A number that could be too large for a double: a three-digit exponent, or 309 digits in a row. */
const MAYBE_HUGE = /\d[eE][+-]?\d{3}|\d{309}/

/**
 * Parses and re-serializes. A number too large for a double (1e400) would be
 * stored as `null`, so it is refused; so is a value nested deeper than
 * `maxDepth`, which the parser and every reader's parser would have to recurse into.
 */
export function parseJSON(source: string, maxDepth: number): string {
  // Each level takes two characters at least: a short body cannot be too deep.
  if (source.length > 2 * maxDepth && depthOf(source) > maxDepth) {
    throw new Refusal(400, `the body nests deeper than ${maxDepth} levels`)
  }
  let value: unknown
  try {
    // The reviver costs twice the parse: run it only when a number could overflow.
    value = MAYBE_HUGE.test(source) ? JSON.parse(source, finiteNumbers) : JSON.parse(source)
  } catch (error) {
    throw new Refusal(400, error instanceof RangeError ? error.message : 'the body is not valid JSON')
  }
  return JSON.stringify(value)
}

/** How deep arrays and objects nest in JSON text (brackets inside strings do not count). */
function depthOf(source: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \\ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) deepest = Math.max(deepest, ++depth)
    else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--
  }
  return deepest
}

function finiteNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new RangeError('the body holds a number too large to store')
  }
  return value
}

function readNode(req: Readable, limit: number): Promise<Bytes> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (result: Bytes) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onFail)
      req.off('close', onFail)
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > limit) done('too-large')
      else chunks.push(chunk)
    }
    const onEnd = () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    const onFail = () => done('unreadable')
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onFail)
    req.on('close', onFail)
  })
}

async function readWeb(request: Request, limit: number): Promise<Bytes> {
  if (!request.body) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = request.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) {
        reader.releaseLock()
        return 'too-large'
      }
      chunks.push(value)
    }
  } catch {
    return 'unreadable'
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
}
