/**
 * A run that callers may ask for in bursts (a file watched for changes: an
 * editor's write is several events): one run at a time, and one more after it
 * when it was asked for again meanwhile. Every caller gets the result of a run
 * that started after its call.
 */
export function coalesced (run: () => Promise<boolean>): () => Promise<boolean> {
  let running: Promise<boolean> | undefined
  let again = false
  return async () => {
    if (running !== undefined) {
      again = true
      return await running
    }
    running = (async () => {
      let ok = false
      do {
        again = false
        ok = await run()
      } while (again)
      return ok
    })()
    try {
      return await running
    } finally {
      running = undefined
    }
  }
}
