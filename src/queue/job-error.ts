import { safeError } from '../log/log.ts';

/**
 * What pg-boss keeps of a failed job (its `output`) outlives the data it was about: an erasure
 * cannot reach it, and a database error's message can quote the values of the row it refused
 * (`invalid input syntax …: "ann@example.com"`), as can V8's own (`"{"email":"an"... is not valid
 * JSON`). So a job fails with the error's kind and code only; the message survives only for the
 * hub's own errors, whose messages are written to carry none.
 */
export class JobFailure extends Error {
  readonly code: string | undefined;
  constructor(name: string, code: string | undefined, message: string) {
    super(message);
    this.name = name;
    this.code = code;
  }
}

/** Errors whose messages the hub writes itself, with ids and codes only. */
const OWN_ERRORS = new Set(['ApiError', 'TrainingError', 'DecisionError', 'VendorHttpError', 'ConfigError', 'JobFailure', 'JobDataError']);

export function jobFailure(error: unknown): JobFailure {
  const { name, code, message } = safeError(error);
  if (OWN_ERRORS.has(name)) return new JobFailure(name, code, message);
  return new JobFailure(name, code, code ? `${name} ${code}` : name);
}
