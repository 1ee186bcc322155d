/**
 * One unmasked WebSocket text frame (RFC 6455 §5.2), header and payload in
 * one buffer. Built once per event: every client then gets the same bytes.
 */
export function textFrame (payload: string): Buffer {
  const length = Buffer.byteLength(payload)
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81 // FIN, text
  if (length < 126) {
    frame[1] = length
  } else if (length < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(0, 2)
    frame.writeUInt32BE(length, 6)
  }
  frame.write(payload, header)
  return frame
}

/** The two framings of GET /events. */
export type StreamFormat = 'sse' | 'ndjson'

/**
 * One frame as an HTTP stream carries it: for SSE an event with its id (what
 * EventSource sends back as Last-Event-ID) and its frame type as the event
 * name; for NDJSON the JSON and a newline. JSON.stringify escapes every
 * newline, so `json` is always one line.
 */
export function streamRecord (format: StreamFormat, json: string, id: string, type: string): Buffer {
  if (format === 'ndjson') return Buffer.from(json + '\n')
  return Buffer.from(`${id === '' ? '' : `id: ${id}\n`}event: ${type}\ndata: ${json}\n\n`)
}

/** A frame object as a stream record: its `id` and `type` (when it has them) are the SSE fields; `json` is the frame serialized, if it already is. */
export function frameRecord (format: StreamFormat, frame: object, json = JSON.stringify(frame)): Buffer {
  const { id = '', type = 'message' } = frame as { id?: string, type?: string }
  return streamRecord(format, json, id, type)
}

/** What a quiet stream gets every SSE_HEARTBEAT_MS: a comment line for SSE, a keepalive frame for NDJSON. */
export const KEEPALIVE: Record<StreamFormat, string> = {
  sse: ': keepalive\n\n',
  ndjson: '{"type":"keepalive"}\n'
}

/** The first bytes of an SSE stream: how long EventSource waits before it reconnects. */
export const sseRetry = (ms: number): string => `retry: ${ms}\n\n`
