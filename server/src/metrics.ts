// Prometheus metrics in the text exposition format: request counts and a
// duration histogram kept here, the rest read from the service when scraped.

/** Upper bounds of the request duration histogram, in seconds. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** What a scrape reads from the service at that moment. */
export interface Gauges {
  keys: number
  /** Characters of keys and values stored, when the store knows. */
  storedChars: number | undefined
  streams: number
  subscriptions: number
  queuedBytes: number
  backlogEvents: number
  backlogBytes: number
  eventsSent: number
  cutOff: number
}

export class Metrics {
  /** Method → status → count; bounded by the methods Node's parser knows (about 30) times the statuses we answer (about 12). */
  readonly #requests = new Map<string, Map<number, number>>()
  readonly #buckets = new Array<number>(BUCKETS.length).fill(0)
  #count = 0
  #sum = 0

  /** One answered request: its method, status and how long it took to answer (a stream: to open). */
  request(method: string, status: number, seconds: number): void {
    let byStatus = this.#requests.get(method)
    if (!byStatus) this.#requests.set(method, (byStatus = new Map()))
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
    this.#count++
    this.#sum += seconds
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.#buckets[i]!++
  }

  render(gauges: Gauges): string {
    const lines: string[] = []
    const metric = (name: string, type: string, help: string, value: number | undefined) => {
      if (value === undefined) return
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`)
    }
    metric('atomkv_keys', 'gauge', 'Keys stored.', gauges.keys)
    metric('atomkv_stored_bytes', 'gauge', 'Characters of the keys and values stored.', gauges.storedChars)
    metric('atomkv_streams', 'gauge', 'Open event streams.', gauges.streams)
    metric('atomkv_subscriptions', 'gauge', 'Keys and prefixes watched over all streams.', gauges.subscriptions)
    metric('atomkv_queued_bytes', 'gauge', 'Bytes of events waiting for slow readers.', gauges.queuedBytes)
    metric('atomkv_backlog_events', 'gauge', 'Events kept for resuming streams.', gauges.backlogEvents)
    metric('atomkv_backlog_bytes', 'gauge', 'Size of the events kept for resuming streams.', gauges.backlogBytes)
    metric('atomkv_events_sent_total', 'counter', 'Events handed to streams.', gauges.eventsSent)
    metric('atomkv_streams_cut_off_total', 'counter', 'Streams cut off (too slow, or replaced and not read).', gauges.cutOff)

    lines.push('# HELP atomkv_requests_total Requests answered, by method and status.')
    lines.push('# TYPE atomkv_requests_total counter')
    for (const [method, byStatus] of [...this.#requests].sort()) {
      for (const [status, count] of [...byStatus].sort((a, b) => a[0] - b[0])) {
        lines.push(`atomkv_requests_total{method="${method}",status="${status}"} ${count}`)
      }
    }
    lines.push('# HELP atomkv_request_duration_seconds Time to answer a request (a stream: to open it).')
    lines.push('# TYPE atomkv_request_duration_seconds histogram')
    BUCKETS.forEach((bound, i) => lines.push(`atomkv_request_duration_seconds_bucket{le="${bound}"} ${this.#buckets[i]}`))
    lines.push(`atomkv_request_duration_seconds_bucket{le="+Inf"} ${this.#count}`)
    lines.push(`atomkv_request_duration_seconds_sum ${this.#sum}`)
    lines.push(`atomkv_request_duration_seconds_count ${this.#count}`)
    return lines.join('\n') + '\n'
  }
}
