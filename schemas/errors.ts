import { Type, type Static } from '@sinclair/typebox'

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ examples: [400] }),
  error: Type.String({ examples: ['Bad Request'] }),
  message: Type.String({ examples: ["body/location is required"] })
}, { description: 'Every error has this shape.' })
export type ErrorResponse = Static<typeof ErrorResponse>

// The client-error responses every publishing route can give.
export const publishErrors = {
  400: { ...ErrorResponse, description: 'Missing, blank, too long or wrong-typed field, or broken JSON.' },
  413: { ...ErrorResponse, description: 'Body over 64 KiB.' },
  415: { ...ErrorResponse, description: 'Content-Type is not application/json.' }
}
