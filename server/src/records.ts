// The durable store's records: one per line, each with a checksum, so a line
// torn by a crash or damaged on disk is found, never loaded.
//
//   <crc32 of the rest, 8 hex digits>\t<kind>\t<fields, tab-separated>\n
//
//   w  seq  key  revision  writtenAt  json      a write (writtenAt: ms since 1970)
//   d  seq  key  removedRevision                a removal (a delete or an expiry)
//   h  format  instance  lastSeq  removedTop    a snapshot's header
//   e  count                                    a snapshot's end: how many writes it holds
//
// Keys hold no tab or newline (the key rule), and the JSON text is the
// server's own `JSON.stringify` output, which escapes both: no field needs
// quoting, and the value is stored exactly as it is served.

import { crc32 } from 'node:zlib'

export const FORMAT = 1

export type LogRecord =
  | { readonly kind: 'w'; readonly seq: number; readonly key: string; readonly revision: number; readonly writtenAt: number; readonly json: string }
  | { readonly kind: 'd'; readonly seq: number; readonly key: string; readonly removedRevision: number }

export type SnapshotRecord =
  | { readonly kind: 'h'; readonly format: number; readonly instance: string; readonly lastSeq: number; readonly removedTop: number }
  | { readonly kind: 'e'; readonly count: number }

export type AnyRecord = LogRecord | SnapshotRecord

/** The line of `record`, newline included. */
export function encode(record: AnyRecord): string {
  let body: string
  switch (record.kind) {
    case 'w':
      body = `w\t${record.seq}\t${record.key}\t${record.revision}\t${record.writtenAt}\t${record.json}`
      break
    case 'd':
      body = `d\t${record.seq}\t${record.key}\t${record.removedRevision}`
      break
    case 'h':
      body = `h\t${record.format}\t${record.instance}\t${record.lastSeq}\t${record.removedTop}`
      break
    case 'e':
      body = `e\t${record.count}`
      break
  }
  return `${checksum(body)}\t${body}\n`
}

/** The record on `line` (without its newline), or why it is not one. */
export function decode(line: string): AnyRecord | string {
  const tab = line.indexOf('\t')
  if (tab !== 8) return 'no checksum'
  const body = line.slice(9)
  if (line.slice(0, 8) !== checksum(body)) return 'checksum mismatch'
  const fields = body.split('\t')
  const int = (i: number) => {
    const text = fields[i]
    return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : NaN
  }
  switch (fields[0]) {
    case 'w': {
      if (fields.length < 6) break
      // The JSON is the rest of the line: it cannot hold a tab, but split() does not know that.
      const json = fields.slice(5).join('\t')
      const record = { kind: 'w', seq: int(1), key: fields[2]!, revision: int(3), writtenAt: int(4), json } as const
      if (Number.isSafeInteger(record.seq) && record.revision >= 0 && Number.isSafeInteger(record.writtenAt)) return record
      break
    }
    case 'd': {
      const record = { kind: 'd', seq: int(1), key: fields[2] ?? '', removedRevision: int(3) } as const
      if (fields.length === 4 && Number.isSafeInteger(record.seq) && record.removedRevision >= 0) return record
      break
    }
    case 'h': {
      const record = { kind: 'h', format: int(1), instance: fields[2] ?? '', lastSeq: int(3), removedTop: int(4) } as const
      if (fields.length === 5 && record.format >= 1 && record.lastSeq >= 0 && record.removedTop >= -1) return record
      break
    }
    case 'e': {
      const record = { kind: 'e', count: int(1) } as const
      if (fields.length === 2 && record.count >= 0) return record
      break
    }
  }
  return `malformed ${JSON.stringify(fields[0] ?? '')} record`
}

function checksum(body: string): string {
  return crc32(body).toString(16).padStart(8, '0')
}
