import { HttpException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Base of the `type` URI of Provisio's own problem kinds. */
export const PROBLEM_TYPE_BASE = 'https://provisio.dev/problems/';

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

  @ApiPropertyOptional({
    example: '3f2b8c1e-6a0d-4b59-9f3e-2c1d7a9e4b10',
    description:
      "The request's X-Request-Id: the id it sent (when valid) or the one generated for it; it is in every log line of the request.",
  })
  request_id?: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Present on validation errors: one entry per bad field.' })
  errors?: FieldErrorDto[];
}

/**
 * Every kind of problem this API answers with, in one list: the value is the last segment of the
 * problem's `type` URI (PROBLEM_TYPE_BASE + code), and problemStatus() gives its HTTP status.
 * A new code must be added to problemStatus() too, or the build fails.
 */
export enum ProblemCode {
  ValidationFailed = 'validation-failed',
  IdempotencyKeyMissing = 'idempotency-key-missing',
  IdempotencyKeyInvalid = 'idempotency-key-invalid',
  Unauthorized = 'unauthorized',
  InsufficientCredits = 'insufficient-credits',
  Forbidden = 'forbidden',
  NotFound = 'not-found',
  EmailTaken = 'email-taken',
  ExternalIdTaken = 'external-id-taken',
  CannotDeactivateSelf = 'cannot-deactivate-self',
  UserPendingClaim = 'user-pending-claim',
  UserDisabled = 'user-disabled',
  KeyRevoked = 'key-revoked',
  ProvisionNotPending = 'provision-not-pending',
  ProvisionUserDisabled = 'provision-user-disabled',
  ClaimIntoItself = 'claim-into-itself',
  ClaimantNotActive = 'claimant-not-active',
  IdempotencyKeyInProgress = 'idempotency-key-in-progress',
  ProvisionPending = 'provision-pending',
  ProvisionClaimed = 'provision-claimed',
  ProvisionExpired = 'provision-expired',
  ProvisionCancelled = 'provision-cancelled',
  PublicMailboxDomain = 'public-mailbox-domain',
  IdempotencyKeyReused = 'idempotency-key-reused',
  BalanceWouldGoNegative = 'balance-would-go-negative',
  BalanceLimitExceeded = 'balance-limit-exceeded',
  RateLimited = 'rate-limited',
}

/** The HTTP statuses a problem of this API can have. */
export type ProblemStatus = 400 | 401 | 402 | 403 | 404 | 409 | 410 | 422 | 429;

/** Compile-time exhaustiveness: a switch over a union that reaches this has missed a member. */
export function assertUnreachable(value: never): never {
  throw new Error(`Unhandled value: ${String(value)}`);
}

/** The HTTP status of each kind of problem. */
export function problemStatus(code: ProblemCode): ProblemStatus {
  switch (code) {
    case ProblemCode.ValidationFailed:
    case ProblemCode.IdempotencyKeyMissing:
    case ProblemCode.IdempotencyKeyInvalid:
      return 400;
    case ProblemCode.Unauthorized:
      return 401;
    case ProblemCode.InsufficientCredits:
      return 402;
    case ProblemCode.Forbidden:
      return 403;
    case ProblemCode.NotFound:
      return 404;
    case ProblemCode.EmailTaken:
    case ProblemCode.ExternalIdTaken:
    case ProblemCode.CannotDeactivateSelf:
    case ProblemCode.UserPendingClaim:
    case ProblemCode.UserDisabled:
    case ProblemCode.KeyRevoked:
    case ProblemCode.ProvisionNotPending:
    case ProblemCode.ProvisionUserDisabled:
    case ProblemCode.ClaimIntoItself:
    case ProblemCode.ClaimantNotActive:
    case ProblemCode.IdempotencyKeyInProgress:
      return 409;
    case ProblemCode.ProvisionPending:
    case ProblemCode.ProvisionClaimed:
    case ProblemCode.ProvisionExpired:
    case ProblemCode.ProvisionCancelled:
      return 410;
    case ProblemCode.PublicMailboxDomain:
    case ProblemCode.IdempotencyKeyReused:
    case ProblemCode.BalanceWouldGoNegative:
    case ProblemCode.BalanceLimitExceeded:
      return 422;
    case ProblemCode.RateLimited:
      return 429;
    default:
      return assertUnreachable(code);
  }
}

/** The `type` URI of a kind of problem. */
export function problemType(code: ProblemCode): string {
  return PROBLEM_TYPE_BASE + code;
}

const PROBLEM_CODES: ReadonlySet<string> = new Set(Object.values(ProblemCode));

export function isProblemCode(value: unknown): value is ProblemCode {
  return typeof value === 'string' && PROBLEM_CODES.has(value);
}

/**
 * An error that already knows its problem details; made by the `Problems` factories below. Its
 * status follows from `code`; `extensions` are extra members of the body (e.g. `existing_user_id`).
 */
export class ProblemException extends HttpException {
  readonly fieldErrors?: FieldError[];
  readonly extensions?: Record<string, unknown>;

  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    more: { errors?: FieldError[]; extensions?: Record<string, unknown> } = {},
  ) {
    super(detail, problemStatus(code));
    this.fieldErrors = more.errors;
    this.extensions = more.extensions;
  }

  get type(): string {
    return problemType(this.code);
  }
}

/** A provision's status, as a gone claim link reports it (provisioning's ProvisionStatus). */
type ProvisionStatusName = 'pending' | 'claimed' | 'expired' | 'cancelled';

const GONE_CLAIM_LINK: Record<ProvisionStatusName, { code: ProblemCode; detail: string }> = {
  pending: { code: ProblemCode.ProvisionPending, detail: 'This claim link can no longer be used.' },
  claimed: { code: ProblemCode.ProvisionClaimed, detail: 'This claim link has already been used.' },
  expired: { code: ProblemCode.ProvisionExpired, detail: 'This claim link has expired.' },
  cancelled: {
    code: ProblemCode.ProvisionCancelled,
    detail: 'This claim link was cancelled by the organization that created it.',
  },
};

/** The extension members of an insufficient-credits problem, from which its detail is built. */
export interface InsufficientCredits {
  balance: number;
  units: number;
}

/**
 * One factory per kind of problem: the only place a problem's code, detail text and extension
 * members are put together. The generic kinds (validation, 401, 403, 404) take their detail from
 * the caller; every other kind builds its own text.
 */
export const Problems = {
  /** 400: one entry per bad field; the detail joins their messages unless given. */
  validationFailed(errors: FieldError[], detail?: string): ProblemException {
    return new ProblemException(ProblemCode.ValidationFailed, detail ?? errors.map((e) => e.message).join('; '), {
      errors,
    });
  },

  /** 400: a required Idempotency-Key header was not sent. */
  idempotencyKeyMissing(reason: string): ProblemException {
    return idempotencyKeyProblem(ProblemCode.IdempotencyKeyMissing, reason);
  },

  /** 400: the Idempotency-Key header is malformed. */
  idempotencyKeyInvalid(reason: string): ProblemException {
    return idempotencyKeyProblem(ProblemCode.IdempotencyKeyInvalid, reason);
  },

  /** 401: no key, or a key that does not authenticate; `detail` says which. */
  unauthorized(detail: string): ProblemException {
    return new ProblemException(ProblemCode.Unauthorized, detail);
  },

  /** 402: the pool has fewer credits than the charge needs; nothing was charged. */
  insufficientCredits({ balance, units }: InsufficientCredits): ProblemException {
    return new ProblemException(
      ProblemCode.InsufficientCredits,
      `The credit pool has ${balance} credits; this charge needs ${units}. Nothing was charged.`,
      { extensions: { balance, units } },
    );
  },

  /** 403: a known key that may not do this; `detail` says why. */
  forbidden(detail: string): ProblemException {
    return new ProblemException(ProblemCode.Forbidden, detail);
  },

  /** 404: `detail` names what was not found. */
  notFound(detail: string): ProblemException {
    return new ProblemException(ProblemCode.NotFound, detail);
  },

  /** 409: `email` is taken by `existing`, whose id and email are extension members. */
  emailTaken(email: string, existing: { id: string; email: string }): ProblemException {
    return new ProblemException(ProblemCode.EmailTaken, `A user with email ${email} already exists (id ${existing.id}).`, {
      extensions: { existing_user_id: existing.id, existing_user_email: existing.email },
    });
  },

  /** 409: the organization already has a user with this `external_id`; its id and email are extension members. */
  externalIdTaken(externalId: string, existing: { id: string; email: string }): ProblemException {
    return new ProblemException(
      ProblemCode.ExternalIdTaken,
      `A user with external_id ${JSON.stringify(externalId)} already exists in your organization (id ${existing.id}).`,
      { extensions: { existing_user_id: existing.id, existing_user_email: existing.email } },
    );
  },

  /** 409 */
  cannotDeactivateSelf(): ProblemException {
    return new ProblemException(ProblemCode.CannotDeactivateSelf, 'You cannot deactivate your own user.');
  },

  /** 409: an operator changed the status of a placeholder user. */
  userPendingClaim(userId: string): ProblemException {
    return new ProblemException(
      ProblemCode.UserPendingClaim,
      `User ${userId} belongs to a pending provision; claim or cancel the provision instead.`,
    );
  },

  /** 409: a new key for a disabled user. */
  userDisabled(userId: string): ProblemException {
    return new ProblemException(ProblemCode.UserDisabled, `User ${userId} is disabled; it cannot get new keys.`);
  },

  /** 409: rotating a revoked key. */
  keyRevoked(keyId: string): ProblemException {
    return new ProblemException(ProblemCode.KeyRevoked, `API key ${keyId} is revoked; only a live key can be rotated.`);
  },

  /** 409: cancelling, reissuing or changing the expiry of a provision that is no longer pending. */
  provisionNotPending(
    provisionId: string,
    status: ProvisionStatusName,
    action: 'cancelled' | 'reissued' | 'changed' = 'cancelled',
  ): ProblemException {
    return new ProblemException(
      ProblemCode.ProvisionNotPending,
      `Provision ${provisionId} is ${status}; only a pending provision can be ${action}.`,
      { extensions: { provision_status: status } },
    );
  },

  /** 409 */
  provisionUserDisabled(): ProblemException {
    return new ProblemException(
      ProblemCode.ProvisionUserDisabled,
      "This provision's account was deactivated by its organization; it cannot be claimed.",
    );
  },

  /** 409 */
  claimIntoItself(): ProblemException {
    return new ProblemException(
      ProblemCode.ClaimIntoItself,
      "The X-API-Key is the provisioned account's own key; send no key to claim the account itself.",
    );
  },

  /** 409 */
  claimantNotActive(): ProblemException {
    return new ProblemException(ProblemCode.ClaimantNotActive, 'Only an active account can receive a claimed provision.');
  },

  /** 409: another request with this Idempotency-Key has not finished. */
  idempotencyKeyInProgress(): ProblemException {
    return new ProblemException(
      ProblemCode.IdempotencyKeyInProgress,
      'A request with this Idempotency-Key is still being processed. Retry later to get its answer.',
    );
  },

  /** 410: a claim link whose provision is `status` (claimed, expired, cancelled). */
  claimLinkGone(status: ProvisionStatusName): ProblemException {
    const { code, detail } = GONE_CLAIM_LINK[status];
    return new ProblemException(code, detail, { extensions: { provision_status: status } });
  },

  /** 422: the provisioner flag for a user of a public mailbox domain. */
  publicMailboxDomain(domain: string): ProblemException {
    return new ProblemException(
      ProblemCode.PublicMailboxDomain,
      `${domain} is a public mailbox domain: a provisioner there would mint addresses on a domain nobody in the organization owns.`,
      { errors: [{ field: 'is_provisioner', message: `cannot be set for a user of ${domain}` }] },
    );
  },

  /** 422: same Idempotency-Key, another request. */
  idempotencyKeyReused(): ProblemException {
    return new ProblemException(
      ProblemCode.IdempotencyKeyReused,
      'This Idempotency-Key was already used for a different request (another route, caller or body). ' +
        'Use a new key for a new request.',
    );
  },

  /** 422: a correction of `amount` (< 0) would take the pool of `domain` below 0. */
  balanceWouldGoNegative({ domain, balance, amount }: { domain: string; balance: number; amount: number }): ProblemException {
    return new ProblemException(
      ProblemCode.BalanceWouldGoNegative,
      `The pool of ${domain} has ${balance} credits; a correction of ${amount} would take it below 0. Nothing was changed.`,
      { errors: [{ field: 'amount', message: `amount must be at least -${balance} for this pool` }], extensions: { balance } },
    );
  },

  /** 422: a grant of `amount` would take the pool of `domain` above `max`. */
  balanceLimitExceeded({
    domain,
    balance,
    amount,
    max,
  }: {
    domain: string;
    balance: number;
    amount: number;
    max: number;
  }): ProblemException {
    return new ProblemException(
      ProblemCode.BalanceLimitExceeded,
      `The pool of ${domain} has ${balance} credits; a grant of ${amount} would exceed the largest balance (${max}). Nothing was changed.`,
      {
        errors: [{ field: 'amount', message: `amount must be at most ${max - balance} for this pool` }],
        extensions: { balance },
      },
    );
  },

  /**
   * 429: over the rate limit of an API key (`key`) or of a client address without a valid key
   * (`ip`); the answer also carries Retry-After.
   */
  rateLimited(scope: 'key' | 'ip', limit: number, retryAfterSeconds: number): ProblemException {
    const who = scope === 'key' ? 'This API key' : 'This client address (without a valid API key)';
    return new ProblemException(
      ProblemCode.RateLimited,
      `${who} has made ${limit} requests this minute, its limit; retry in ${retryAfterSeconds} s.`,
    );
  },
} as const;

function idempotencyKeyProblem(code: ProblemCode, reason: string): ProblemException {
  return new ProblemException(code, `Idempotency-Key: ${reason}.`, { errors: [{ field: 'Idempotency-Key', message: reason }] });
}

/** A problem as stored to be answered again (an idempotent replay): its code and what it carried. */
export interface StoredProblem {
  code: string;
  /** Absent when the detail is built from the extension members (insufficient-credits). */
  detail?: string;
  errors?: FieldError[];
  extensions?: Record<string, unknown>;
}

/**
 * The problem a stored answer describes, answered exactly as the first time. A stored problem
 * without its detail (the charge statement stores only code and extension members) is rebuilt by
 * its factory.
 */
export function restoreProblem(stored: StoredProblem): ProblemException {
  if (!isProblemCode(stored.code)) throw new Error(`A stored answer has an unknown problem code: ${stored.code}`);
  if (stored.detail !== undefined) {
    return new ProblemException(stored.code, stored.detail, { errors: stored.errors, extensions: stored.extensions });
  }
  if (stored.code === ProblemCode.InsufficientCredits && isInsufficientCredits(stored.extensions)) {
    return Problems.insufficientCredits(stored.extensions);
  }
  throw new Error(`A stored ${stored.code} problem has no detail to answer with`);
}

function isInsufficientCredits(value: unknown): value is InsufficientCredits {
  const v = value as Partial<InsufficientCredits> | undefined;
  return typeof v?.balance === 'number' && typeof v.units === 'number';
}
