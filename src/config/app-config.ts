import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, validateSync } from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * The service's whole configuration, read once from the environment and validated at start-up.
 * Field names are the environment variable names so a failure names the variable.
 */
export class EnvironmentVariables {
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 3000;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  PUBLIC_BASE_URL?: string;

  /** At most 10 years: a larger TTL made expires_at an invalid date and every provision a 500. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(315_360_000)
  PROVISION_TTL_SECONDS: number = 604800;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86400)
  EXPIRY_SWEEP_INTERVAL_SECONDS: number = 60;

  @IsString()
  @Matches(/^[^@\s]+@[^@\s]+$/, { message: 'ADMIN_EMAIL must be an email address' })
  ADMIN_EMAIL: string = 'admin@localhost';

  @IsOptional()
  @Transform(emptyToUndefined)
  // Any key the deployer chooses (the contract: "that exact key"); a generated pvk_ key is best.
  @Matches(/^[\x21-\x7e]{8,256}$/, {
    message: 'ADMIN_API_KEY must be 8–256 printable ASCII characters without spaces (ideally a pvk_ key made by the API)',
  })
  ADMIN_API_KEY?: string;

  @IsString()
  DATA_DIR: string = './.data';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  /** Largest accepted request body; bigger ones get 413. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(10 * 1024 * 1024)
  BODY_LIMIT_BYTES: number = 65536;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(200)
  DATABASE_POOL_SIZE: number = 10;

  /** Which requests get an access-log line: `all` (default), or `errors` (4xx, 5xx and requests slower than 1 s). */
  @IsIn(['all', 'errors'])
  ACCESS_LOG: 'all' | 'errors' = 'all';

  /** How long a verified key stays in this process's cache; 0 turns the cache off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  KEY_CACHE_TTL_MS: number = 30000;

  /** Most keys the verification cache holds (least recently used go first). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  KEY_CACHE_MAX: number = 10000;

  /** How long an unknown key is remembered as unknown; 0 turns negative caching off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  KEY_CACHE_NEGATIVE_TTL_MS: number = 10000;

  /** Most unknown keys remembered. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  KEY_CACHE_NEGATIVE_MAX: number = 5000;

  /** How often recorded key use is written to api_keys.last_used_at (each key at most once a minute). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60_000)
  KEY_USAGE_FLUSH_INTERVAL_MS: number = 5000;

  /** How long SIGTERM lets requests in flight (and requests on connections already open) finish. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  SHUTDOWN_GRACE_SECONDS: number = 10;

  /**
   * How long an Idempotency-Key may stay claimed by a request whose instance no longer answers (a
   * crash, a lost host): PostgreSQL ends a session idle inside its transaction this long, which
   * rolls the claim back so a retry can succeed.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  IDEMPOTENCY_LOCK_SECONDS: number = 30;
}

/** The typed configuration other providers inject. */
export class AppConfig {
  readonly databaseUrl?: string;
  readonly port: number;
  readonly publicBaseUrl: string;
  readonly provisionTtlSeconds: number;
  readonly expirySweepIntervalSeconds: number;
  readonly adminEmail: string;
  readonly adminApiKey?: string;
  readonly dataDir: string;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly databasePoolSize: number;
  readonly accessLog: 'all' | 'errors';
  readonly keyCacheTtlMs: number;
  readonly keyCacheMax: number;
  readonly keyCacheNegativeTtlMs: number;
  readonly keyCacheNegativeMax: number;
  readonly keyUsageFlushIntervalMs: number;
  readonly shutdownGraceSeconds: number;
  readonly idempotencyLockSeconds: number;

  constructor(values: Omit<AppConfig, never>) {
    Object.assign(this, values);
  }
}

export class ConfigValidationError extends Error {}

/** Validates an environment record; throws naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const known = Object.keys(new EnvironmentVariables());
  const raw: Record<string, unknown> = {};
  for (const key of [...known, 'DATABASE_URL', 'PUBLIC_BASE_URL', 'ADMIN_API_KEY']) {
    if (env[key] !== undefined) raw[key] = env[key];
  }
  const vars = plainToInstance(EnvironmentVariables, raw, { exposeDefaultValues: true });
  const errors = validateSync(vars, { skipMissingProperties: false });
  if (errors.length > 0) {
    const lines = errors.map((e) => `${e.property}=${JSON.stringify(e.value)}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new ConfigValidationError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return new AppConfig({
    databaseUrl: vars.DATABASE_URL,
    port: vars.PORT,
    publicBaseUrl: (vars.PUBLIC_BASE_URL ?? `http://localhost:${vars.PORT}`).replace(/\/+$/, ''),
    provisionTtlSeconds: vars.PROVISION_TTL_SECONDS,
    expirySweepIntervalSeconds: vars.EXPIRY_SWEEP_INTERVAL_SECONDS,
    adminEmail: vars.ADMIN_EMAIL.trim().toLowerCase(),
    adminApiKey: vars.ADMIN_API_KEY,
    dataDir: vars.DATA_DIR,
    logLevel: vars.LOG_LEVEL,
    bodyLimitBytes: vars.BODY_LIMIT_BYTES,
    databasePoolSize: vars.DATABASE_POOL_SIZE,
    accessLog: vars.ACCESS_LOG,
    keyCacheTtlMs: vars.KEY_CACHE_TTL_MS,
    keyCacheMax: vars.KEY_CACHE_MAX,
    keyCacheNegativeTtlMs: vars.KEY_CACHE_NEGATIVE_TTL_MS,
    keyCacheNegativeMax: vars.KEY_CACHE_NEGATIVE_MAX,
    keyUsageFlushIntervalMs: vars.KEY_USAGE_FLUSH_INTERVAL_MS,
    shutdownGraceSeconds: vars.SHUTDOWN_GRACE_SECONDS,
    idempotencyLockSeconds: vars.IDEMPOTENCY_LOCK_SECONDS,
  });
}
