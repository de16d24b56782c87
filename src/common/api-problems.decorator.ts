import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProblemDto, ProblemStatus } from './problem';

/** The media type of every error body of this API (RFC 9457). */
export const PROBLEM_JSON = 'application/problem+json';

/** A status a route documents as a problem: one of the problem kinds', or 503 (database down). */
export type ApiProblemStatus = ProblemStatus | 503;

/** What each documented problem status means on this route. */
export type ApiProblemDescriptions = Partial<Record<ApiProblemStatus, string>>;

/**
 * Documents a route's (or a controller's) problem answers in one decorator: each status with its
 * description, its body the shared ProblemDto schema under `application/problem+json` (and
 * `application/json`, for generators that read only that). A status documented twice on a route
 * (e.g. 409 by @Idempotent() and by the route itself) keeps both descriptions, joined.
 */
export function ApiProblems(descriptions: ApiProblemDescriptions): MethodDecorator & ClassDecorator {
  const responses = Object.entries(descriptions).map(([status, description]) =>
    ApiResponse({ status: Number(status), description, content: problemContent() }),
  );
  return applyDecorators(ApiExtraModels(ProblemDto), ...responses);
}

function problemContent() {
  return {
    [PROBLEM_JSON]: { schema: { $ref: getSchemaPath(ProblemDto) } },
    'application/json': { schema: { $ref: getSchemaPath(ProblemDto) } },
  };
}
