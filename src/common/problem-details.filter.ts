import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS, DatabaseHealth, isDatabaseUnreachable } from '../database/database-health';
import { ProblemCode, ProblemDto, ProblemException, Problems } from './problem';
import { REQUEST_ID_HEADER } from './request-id';
import { setSecurityHeaders } from './security-headers';

/** Fastify's own errors (body parsing, limits) carry a statusCode and a code. */
interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/**
 * Turns every error into RFC 9457 problem details. Unknown errors are 500 and logged with their
 * stack; their message never reaches the client. An error that says the database cannot be reached
 * is a 503 `database-unavailable` problem with Retry-After, and is not logged here: DatabaseHealth
 * logs the outage once when it starts and once when it ends.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetails');

  constructor(private readonly database?: DatabaseHealth) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    let error = exception;
    if (!(exception instanceof HttpException) && isDatabaseUnreachable(exception)) {
      this.database?.reportFailure(exception);
      this.database?.countRefused();
      error = Problems.databaseUnavailable();
    }
    const problem = this.toProblem(error);
    problem.instance = request?.url?.split('?')[0];
    if (request?.id) problem.request_id = request.id;
    if (problem.status >= 500 && !(error instanceof ProblemException)) {
      const stack = exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
      this.logger.error({ request_id: request?.id, err: stack }, 'request failed');
    }
    if (error instanceof ProblemException && error.code === ProblemCode.DatabaseUnavailable) {
      void reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
    }
    void reply.status(problem.status).header('content-type', 'application/problem+json').send(problem);
  }

  toProblem(exception: unknown): ProblemDto & Record<string, unknown> {
    if (exception instanceof ProblemException) {
      const status = exception.getStatus();
      return {
        type: exception.type,
        title: STATUS_CODES[status] ?? 'Error',
        status,
        detail: exception.detail,
        ...(exception.fieldErrors ? { errors: exception.fieldErrors } : {}),
        ...(exception.extensions ?? {}),
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      let detail = exception.message;
      if (typeof response === 'object' && response !== null) {
        const message = (response as { message?: unknown }).message;
        if (Array.isArray(message)) detail = message.join('; ');
        else if (typeof message === 'string') detail = message;
      } else if (typeof response === 'string') {
        detail = response;
      }
      return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail };
    }
    const fastifyError = exception as FastifyLikeError;
    if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      const status = fastifyError.statusCode;
      return {
        type: 'about:blank',
        title: STATUS_CODES[status] ?? 'Error',
        status,
        detail: describeFastifyError(fastifyError),
      };
    }
    const status = HttpStatus.INTERNAL_SERVER_ERROR;
    return {
      type: 'about:blank',
      title: STATUS_CODES[status]!,
      status,
      detail: 'An unexpected error occurred. It has been logged.',
    };
  }
}

/**
 * Fastify's `frameworkErrors` hook: errors Fastify meets before routing (an over-long path
 * parameter, a malformed URL) are answered as problem details too, not as Fastify's own JSON.
 */
export function frameworkErrorAsProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  // Some of these answers (a malformed URL) run no hook: the security headers are set here too.
  setSecurityHeaders(request, reply);
  const problem = new ProblemDetailsFilter().toProblem(error);
  problem.request_id = request.id;
  void reply.header(REQUEST_ID_HEADER, request.id);
  void reply.status(problem.status).header('content-type', 'application/problem+json').send(problem);
}

function describeFastifyError(error: FastifyLikeError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The request body is not valid JSON.';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The request body is larger than this service accepts.';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported Content-Type: send application/json.';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'A path parameter is longer than any valid value.';
    case 'FST_ERR_BAD_URL':
      return 'The URL is not valid (bad percent-encoding).';
    default:
      return error.message ?? 'The request could not be processed.';
  }
}
