import { Type, type Static } from '@sinclair/typebox'

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ examples: [400] }),
  error: Type.String({ examples: ['Bad Request'] }),
  message: Type.String({ examples: ["body/location is required"] })
}, { description: 'Every error has this shape.' })
export type ErrorResponse = Static<typeof ErrorResponse>

const described = (description: string) => ({ ...ErrorResponse, description })

// The error responses every API route can give.
export const apiErrors = {
  401: described('API_TOKEN is set and the request has no valid bearer token.'),
  503: described('Overloaded, or (with Redis) Redis unreachable; see Retry-After.')
}

// And those of the publishing routes.
export const publishErrors = {
  ...apiErrors,
  400: described('Missing, blank, too long or wrong-typed field, or broken JSON.'),
  413: described('Body over 64 KiB.'),
  415: described('Content-Type is not application/json.'),
  429: described('Over the rate limit; see Retry-After.')
}

/**
 * An error that the error handler answers with this status, in the one error
 * shape. Its message reaches the client for a 4xx or a 503 (say what to fix,
 * or that it is worth retrying); any other 5xx is logged, not shown.
 */
export function httpError (statusCode: number, message: string, options?: ErrorOptions): Error & { statusCode: number } {
  return Object.assign(new Error(message, options), { statusCode })
}
