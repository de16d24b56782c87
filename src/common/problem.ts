import { HttpException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Base of the `type` URI of Provisio's own problem kinds. */
export const PROBLEM_TYPE_BASE = 'https://provisio.dev/problems/';

/** The problem code of a request refused because the database cannot be reached. */
export const DATABASE_UNAVAILABLE = 'database-unavailable';

export interface FieldError {
  field: string;
  message: string;
}

export class FieldErrorDto {
  @ApiProperty({ example: 'email' })
  field: string;

  @ApiProperty({ example: 'email must be an email address' })
  message: string;
}

/** RFC 9457 problem details, as every error of this API is answered. */
export class ProblemDto {
  @ApiProperty({ example: 'https://provisio.dev/problems/validation-failed' })
  type: string;

  @ApiProperty({ example: 'Bad Request' })
  title: string;

  @ApiProperty({ example: 400 })
  status: number;

  @ApiProperty({ example: 'The request body is invalid.' })
  detail: string;

  @ApiPropertyOptional({ example: '/api/v1/admin/create-user' })
  instance?: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Present on validation errors: one entry per bad field.' })
  errors?: FieldErrorDto[];
}

/**
 * An error that already knows its problem details. `code` names the kind of problem and becomes
 * the `type` URI; `extensions` are extra members (e.g. `existing_user_id`).
 */
export class ProblemException extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    readonly detail: string,
    readonly fieldErrors?: FieldError[],
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail, status);
  }

  static badRequest(code: string, detail: string, fieldErrors?: FieldError[]) {
    return new ProblemException(400, code, detail, fieldErrors);
  }
  static validation(fieldErrors: FieldError[], detail?: string) {
    return new ProblemException(400, 'validation-failed', detail ?? fieldErrors.map((e) => e.message).join('; '), fieldErrors);
  }
  static unauthorized(detail = 'A valid API key is required in the X-API-Key header.') {
    return new ProblemException(401, 'unauthorized', detail);
  }
  static forbidden(detail: string) {
    return new ProblemException(403, 'forbidden', detail);
  }
  static notFound(detail: string) {
    return new ProblemException(404, 'not-found', detail);
  }
  static conflict(code: string, detail: string, extensions?: Record<string, unknown>) {
    return new ProblemException(409, code, detail, undefined, extensions);
  }
  static gone(code: string, detail: string, extensions?: Record<string, unknown>) {
    return new ProblemException(410, code, detail, undefined, extensions);
  }
  static unprocessable(code: string, detail: string, fieldErrors?: FieldError[]) {
    return new ProblemException(422, code, detail, fieldErrors);
  }
  /** The database cannot be reached (answered with Retry-After by the filter). */
  static databaseUnavailable(detail = 'The database is unreachable at the moment. Retry after the time in Retry-After.') {
    return new ProblemException(503, DATABASE_UNAVAILABLE, detail);
  }
}
