// One small HTTP/1.1 request helper for the orchestrator and the workers
// (node:http, keep-alive when given an Agent). Always bounded by a timeout.

import http from 'node:http'

/** Resolves to { status, headers, text }; rejects on a network error or after `timeoutMs`. */
export function request(port, method, path, { body, headers = {}, agent = false, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, method, path, agent, headers, timeout: timeoutMs }
    const req = http.request(options, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (data) => (text += data))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }))
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(body)
  })
}

export const JSON_HEADERS = { 'content-type': 'application/json' }
