/** Route config for routes that must answer even when the server is overloaded (health, readiness, metrics). */
export const neverShed = { pressureHandler: (): undefined => undefined }
