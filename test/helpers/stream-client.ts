import { get, type IncomingMessage, type ClientRequest } from 'node:http'
import type { Teardown } from './app'
import { Inbox, WAIT_MS, once } from './wait'

/** One record of a stream: for SSE its id, event name and parsed data; for NDJSON the parsed line. */
export interface StreamRecord {
  id?: string
  event?: string
  retry?: number
  comment?: string
  data: Record<string, unknown>
}

/**
 * A real HTTP reader of GET /events that parses SSE or NDJSON as it arrives
 * and queues every record, so a test waits for the next one without racing
 * the socket. Comments (SSE keep-alives) and retry hints are queued too, as
 * records without data, only when `keepComments` is set.
 */
export class StreamClient {
  private readonly inbox = new Inbox<StreamRecord>('record')
  private buffer = ''
  ended: Promise<void>

  private constructor (readonly request: ClientRequest, readonly response: IncomingMessage, readonly keepComments: boolean) {
    const format = /ndjson/.test(response.headers['content-type'] ?? '') ? 'ndjson' : 'sse'
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      this.buffer += chunk
      if (format === 'ndjson') this.ndjson()
      else this.sse()
    })
    this.ended = new Promise((resolve) => {
      response.once('close', resolve)
      response.once('error', () => resolve())
    })
  }

  static async open (url: string, t: Teardown, headers: Record<string, string> = {}, keepComments = false): Promise<StreamClient> {
    const request = get(url, { headers })
    t.teardown(() => request.destroy())
    const response = await once<IncomingMessage>(request, 'response')
    return new StreamClient(request, response, keepComments)
  }

  private ndjson (): void {
    let end: number
    while ((end = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 1)
      this.inbox.push({ data: JSON.parse(line) })
    }
  }

  private sse (): void {
    let end: number
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const record: Partial<StreamRecord> = {}
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':')
        const field = line.slice(0, colon)
        const value = line.slice(colon + 1).replace(/^ /, '')
        if (field === '') record.comment = value
        else if (field === 'id') record.id = value
        else if (field === 'event') record.event = value
        else if (field === 'retry') record.retry = Number(value)
        else if (field === 'data') record.data = JSON.parse(value)
        else throw new Error(`unexpected SSE field ${field}`)
      }
      if (record.data !== undefined || this.keepComments) this.inbox.push({ data: {}, ...record })
    }
  }

  /** The next record, waiting for it up to `ms`. */
  async next (ms = WAIT_MS): Promise<StreamRecord> {
    return await this.inbox.next(ms)
  }

  /** Records received and not taken yet. */
  get records (): StreamRecord[] { return this.inbox.items }

  /** The data of the next `n` records. */
  async take (n: number, ms = WAIT_MS): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = []
    for (let i = 0; i < n; i++) out.push((await this.next(ms)).data)
    return out
  }

  get status (): number { return this.response.statusCode ?? 0 }

  close (): void { this.request.destroy() }
}

/** A whole response body (a refusal, or ?poll=1), with its status and headers. */
export async function fetchText (url: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Headers, text: string }> {
  const response = await fetch(url, { headers })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** The frames of an NDJSON body. */
export const ndjsonFrames = (text: string): Array<Record<string, unknown>> =>
  text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
