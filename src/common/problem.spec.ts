import { ProblemDetailsFilter } from './problem-details.filter';
import {
  isProblemCode,
  PROBLEM_TYPE_BASE,
  ProblemCode,
  ProblemException,
  problemStatus,
  Problems,
  restoreProblem,
  StoredProblem,
} from './problem';

/** The status of every code, as the contract and the tests over HTTP expect them. */
const EXPECTED_STATUS: Record<ProblemCode, number> = {
  [ProblemCode.ValidationFailed]: 400,
  [ProblemCode.IdempotencyKeyMissing]: 400,
  [ProblemCode.IdempotencyKeyInvalid]: 400,
  [ProblemCode.Unauthorized]: 401,
  [ProblemCode.InsufficientCredits]: 402,
  [ProblemCode.Forbidden]: 403,
  [ProblemCode.NotFound]: 404,
  [ProblemCode.EmailTaken]: 409,
  [ProblemCode.ExternalIdTaken]: 409,
  [ProblemCode.CannotDeactivateSelf]: 409,
  [ProblemCode.UserPendingClaim]: 409,
  [ProblemCode.UserDisabled]: 409,
  [ProblemCode.KeyRevoked]: 409,
  [ProblemCode.ProvisionNotPending]: 409,
  [ProblemCode.ProvisionUserDisabled]: 409,
  [ProblemCode.ClaimIntoItself]: 409,
  [ProblemCode.ClaimantNotActive]: 409,
  [ProblemCode.IdempotencyKeyInProgress]: 409,
  [ProblemCode.ProvisionPending]: 410,
  [ProblemCode.ProvisionClaimed]: 410,
  [ProblemCode.ProvisionExpired]: 410,
  [ProblemCode.ProvisionCancelled]: 410,
  [ProblemCode.PublicMailboxDomain]: 422,
  [ProblemCode.IdempotencyKeyReused]: 422,
  [ProblemCode.BalanceWouldGoNegative]: 422,
  [ProblemCode.BalanceLimitExceeded]: 422,
  [ProblemCode.RateLimited]: 429,
};

/** One problem of every factory, to check what all of them share. */
const EVERY_FACTORY: Record<keyof typeof Problems, () => ProblemException> = {
  validationFailed: () => Problems.validationFailed([{ field: 'email', message: 'email is not valid' }]),
  idempotencyKeyMissing: () => Problems.idempotencyKeyMissing('the header is required'),
  idempotencyKeyInvalid: () => Problems.idempotencyKeyInvalid('must be 1–255 printable ASCII characters'),
  unauthorized: () => Problems.unauthorized('The API key is not known.'),
  insufficientCredits: () => Problems.insufficientCredits({ balance: 3, units: 5 }),
  forbidden: () => Problems.forbidden('This route is for operators.'),
  notFound: () => Problems.notFound('User u-1 was not found.'),
  emailTaken: () => Problems.emailTaken('a@b.example', { id: 'u-1', email: 'a@b.example' }),
  externalIdTaken: () => Problems.externalIdTaken('cust-1', { id: 'u-1', email: 'a@b.example' }),
  cannotDeactivateSelf: () => Problems.cannotDeactivateSelf(),
  userPendingClaim: () => Problems.userPendingClaim('u-1'),
  userDisabled: () => Problems.userDisabled('u-1'),
  keyRevoked: () => Problems.keyRevoked('k-1'),
  provisionNotPending: () => Problems.provisionNotPending('p-1', 'claimed'),
  provisionUserDisabled: () => Problems.provisionUserDisabled(),
  claimIntoItself: () => Problems.claimIntoItself(),
  claimantNotActive: () => Problems.claimantNotActive(),
  idempotencyKeyInProgress: () => Problems.idempotencyKeyInProgress(),
  claimLinkGone: () => Problems.claimLinkGone('expired'),
  publicMailboxDomain: () => Problems.publicMailboxDomain('gmail.com'),
  idempotencyKeyReused: () => Problems.idempotencyKeyReused(),
  balanceWouldGoNegative: () => Problems.balanceWouldGoNegative({ domain: 'b.example', balance: 4, amount: -5 }),
  balanceLimitExceeded: () => Problems.balanceLimitExceeded({ domain: 'b.example', balance: 4, amount: 10, max: 10 }),
  rateLimited: () => Problems.rateLimited('key', 6000, 42),
};

/** What IdempotencyService stores of a problem it answered. */
function stored(problem: ProblemException): StoredProblem {
  return JSON.parse(
    JSON.stringify({
      code: problem.code,
      detail: problem.detail,
      ...(problem.fieldErrors ? { errors: problem.fieldErrors } : {}),
      ...(problem.extensions ? { extensions: problem.extensions } : {}),
    }),
  ) as StoredProblem;
}

const filter = new ProblemDetailsFilter();

describe('problem codes', () => {
  it.each(Object.values(ProblemCode))('%s has its status and a type URI made of the code', (code) => {
    expect(problemStatus(code)).toBe(EXPECTED_STATUS[code]);
    expect(new ProblemException(code, 'x').type).toBe(`${PROBLEM_TYPE_BASE}${code}`);
  });

  it('recognizes its own codes only', () => {
    expect(isProblemCode('insufficient-credits')).toBe(true);
    expect(isProblemCode('thing-taken')).toBe(false);
    expect(isProblemCode(402)).toBe(false);
  });
});

describe('Problems factories', () => {
  it.each(Object.entries(EVERY_FACTORY))('%s: status from the code, answered by the filter as its type URI', (_name, make) => {
    const problem = make();
    expect(problem.getStatus()).toBe(EXPECTED_STATUS[problem.code]);
    const body = filter.toProblem(problem);
    expect(body).toMatchObject({
      type: PROBLEM_TYPE_BASE + problem.code,
      status: problem.getStatus(),
      detail: problem.detail,
      ...(problem.extensions ?? {}),
    });
    expect(body.errors).toEqual(problem.fieldErrors);
  });

  it.each(Object.entries(EVERY_FACTORY))('%s: a stored answer restores the same problem', (_name, make) => {
    const problem = make();
    const restored = restoreProblem(stored(problem));
    expect(filter.toProblem(restored)).toEqual(filter.toProblem(problem));
  });

  it('insufficientCredits: the one text of the 402, with balance and units as members', () => {
    expect(filter.toProblem(Problems.insufficientCredits({ balance: 3, units: 5 }))).toEqual({
      type: 'https://provisio.dev/problems/insufficient-credits',
      title: 'Payment Required',
      status: 402,
      detail: 'The credit pool has 3 credits; this charge needs 5. Nothing was charged.',
      balance: 3,
      units: 5,
    });
  });

  it('emailTaken names the existing user', () => {
    expect(filter.toProblem(Problems.emailTaken('a@b.example', { id: 'u-1', email: 'a@b.example' }))).toEqual({
      type: 'https://provisio.dev/problems/email-taken',
      title: 'Conflict',
      status: 409,
      detail: 'A user with email a@b.example already exists (id u-1).',
      existing_user_id: 'u-1',
      existing_user_email: 'a@b.example',
    });
  });

  it('externalIdTaken names the existing user', () => {
    expect(filter.toProblem(Problems.externalIdTaken('cust-1', { id: 'u-1', email: 'a@b.example' }))).toEqual({
      type: 'https://provisio.dev/problems/external-id-taken',
      title: 'Conflict',
      status: 409,
      detail: 'A user with external_id "cust-1" already exists in your organization (id u-1).',
      existing_user_id: 'u-1',
      existing_user_email: 'a@b.example',
    });
  });

  it.each([
    ['pending', 'provision-pending', 'This claim link can no longer be used.'],
    ['claimed', 'provision-claimed', 'This claim link has already been used.'],
    ['expired', 'provision-expired', 'This claim link has expired.'],
    ['cancelled', 'provision-cancelled', 'This claim link was cancelled by the organization that created it.'],
  ] as const)('claimLinkGone(%s) is 410 %s', (status, code, detail) => {
    expect(filter.toProblem(Problems.claimLinkGone(status))).toEqual({
      type: PROBLEM_TYPE_BASE + code,
      title: 'Gone',
      status: 410,
      detail,
      provision_status: status,
    });
  });

  it('validationFailed joins the field messages unless given a detail', () => {
    const errors = [
      { field: 'a', message: 'a is bad' },
      { field: 'b', message: 'b is bad' },
    ];
    expect(Problems.validationFailed(errors).detail).toBe('a is bad; b is bad');
    expect(Problems.validationFailed(errors, 'Bad.').detail).toBe('Bad.');
    expect(Problems.validationFailed(errors).fieldErrors).toEqual(errors);
  });

  it('balance problems name the field and the bound', () => {
    expect(Problems.balanceWouldGoNegative({ domain: 'b.example', balance: 4, amount: -5 })).toMatchObject({
      detail: 'The pool of b.example has 4 credits; a correction of -5 would take it below 0. Nothing was changed.',
      fieldErrors: [{ field: 'amount', message: 'amount must be at least -4 for this pool' }],
      extensions: { balance: 4 },
    });
    expect(Problems.balanceLimitExceeded({ domain: 'b.example', balance: 4, amount: 10, max: 10 })).toMatchObject({
      detail: 'The pool of b.example has 4 credits; a grant of 10 would exceed the largest balance (10). Nothing was changed.',
      fieldErrors: [{ field: 'amount', message: 'amount must be at most 6 for this pool' }],
    });
  });
});

describe('restoreProblem', () => {
  it('rebuilds an insufficient-credits answer stored as code and members only (the charge statement)', () => {
    const restored = restoreProblem({ code: 'insufficient-credits', extensions: { units: 5, balance: 3 } });
    expect(filter.toProblem(restored)).toEqual(filter.toProblem(Problems.insufficientCredits({ balance: 3, units: 5 })));
  });

  it('answers an older stored answer that carries its detail exactly as stored', () => {
    const detail = 'The credit pool has 3 credits; this charge needs 5. Nothing was charged.';
    const restored = restoreProblem({ code: 'insufficient-credits', detail, extensions: { units: 5, balance: 3 } });
    expect(filter.toProblem(restored)).toEqual(filter.toProblem(Problems.insufficientCredits({ balance: 3, units: 5 })));
  });

  it('refuses what it cannot answer faithfully', () => {
    expect(() => restoreProblem({ code: 'thing-taken', detail: 'Taken.' })).toThrow(/unknown problem code/);
    expect(() => restoreProblem({ code: 'not-found' })).toThrow(/no detail/);
    expect(() => restoreProblem({ code: 'insufficient-credits', extensions: { units: 5 } })).toThrow(/no detail/);
  });
});
