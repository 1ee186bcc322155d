/**
 * Domain errors of the core. They say what went wrong in the backend's terms;
 * the HTTP layer (plugins/app/errors.ts) decides what a client is told.
 */

/** The backend cannot be reached or refuses for a while: nothing was done, a retry is safe. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError'
  readonly code = 'BACKEND_UNAVAILABLE'
}

/** The database file cannot take writes now (a full disk, an I/O error): nothing of the request was stored, a retry is safe. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError'
  readonly code = 'STORAGE_UNAVAILABLE'
}

/** A new alert would exceed OPEN_ALERTS_MAX, and no alert that is not resolved may be dropped for it (each is critical, acknowledged, or more severe than it). */
export class BoardFullError extends Error {
  override readonly name = 'BoardFullError'
  readonly code = 'BOARD_FULL'
}

/** An idempotency key came back with a different request than the one it was first used for. */
export class IdempotencyConflictError extends Error {
  override readonly name = 'IdempotencyConflictError'
  readonly code = 'IDEMPOTENCY_CONFLICT'
}

/** The backend did not answer in time: the operation may or may not have taken effect. */
export class OutcomeUnknownError extends Error {
  override readonly name = 'OutcomeUnknownError'
  readonly code = 'OUTCOME_UNKNOWN'
}

/** No retained alert has this id (or no alert that is not resolved has this key). */
export class AlertNotFoundError extends Error {
  override readonly name = 'AlertNotFoundError'
  readonly code = 'ALERT_NOT_FOUND'
}

/** The change is not allowed in the alert's state (acknowledging a resolved alert). */
export class AlertConflictError extends Error {
  override readonly name = 'AlertConflictError'
  readonly code = 'ALERT_CONFLICT'
}

/** A ping would create a heartbeat monitor past HEARTBEATS_MAX: nothing was stored. */
export class HeartbeatsFullError extends Error {
  override readonly name = 'HeartbeatsFullError'
  readonly code = 'HEARTBEATS_FULL'
}

/** A heartbeat schedule that cannot be used: not a cron expression, not an IANA time zone, never occurring, or a zone without a schedule. */
export class InvalidScheduleError extends Error {
  override readonly name = 'InvalidScheduleError'
  readonly code = 'INVALID_SCHEDULE'
}
