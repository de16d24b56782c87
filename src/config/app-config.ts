import { isIP } from 'node:net';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  validateSync,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * The service's whole configuration, read once from the environment and validated at start-up:
 * each variable is declared here once, with its checks and its default (`undefined` when it has
 * none, so every field exists on an instance). Field names are the environment variable names so
 * a failure names the variable; AppConfig holds the same fields under their camelCase names.
 */
export class EnvironmentVariables {
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsConnectionUrl(['postgres:', 'postgresql:'], {
    message: 'DATABASE_URL must be a postgres:// or postgresql:// URL',
  })
  DATABASE_URL?: string = undefined;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 3000;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  PUBLIC_BASE_URL?: string = undefined;

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

  /** How often holds past their expiry are released (reads and refused spends also release them at once). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86400)
  RESERVATION_SWEEP_INTERVAL_SECONDS: number = 15;

  @IsString()
  @Matches(/^[^@\s]+@[^@\s]+$/, { message: 'ADMIN_EMAIL must be an email address' })
  ADMIN_EMAIL: string = 'admin@localhost';

  @IsOptional()
  @Transform(emptyToUndefined)
  // Any key the deployer chooses (the contract: "that exact key", at least 32 characters); a generated pvk_ key is best.
  @Matches(/^[\x21-\x7e]{32,256}$/, {
    message: 'ADMIN_API_KEY must be 32–256 printable ASCII characters without spaces (ideally a pvk_ key made by the API)',
  })
  ADMIN_API_KEY?: string = undefined;

  /**
   * Whose X-Forwarded-For to believe: unset trusts none (the client is the TCP peer); a hop count
   * (`1`: the nearest proxy), or a comma-separated list of proxy addresses, CIDR ranges or
   * proxy-addr's names (`loopback`, `linklocal`, `uniquelocal`). See fastifyTrustProxy().
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsTrustProxy({
    message:
      'TRUST_PROXY must be a hop count (1–10) or a comma-separated list of proxy addresses or CIDR ranges ' +
      '(or loopback, linklocal, uniquelocal)',
  })
  TRUST_PROXY?: string = undefined;

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

  /** Requests a minute per API key on authenticated routes; 0 turns the limit off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  RATE_LIMIT_KEY_PER_MINUTE: number = 6000;

  /** Requests a minute per client IP on routes without a valid key (claims, failed authentication); 0 turns it off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  RATE_LIMIT_IP_PER_MINUTE: number = 120;

  /** Redis shared by the instances for rate-limit counts; unset: counted per process. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /** Prefix of the rate-limit keys in Redis (several deployments or test runs on one Redis). */
  @IsString()
  @Matches(/^[\x21-\x7e]{1,100}$/, { message: 'RATE_LIMIT_REDIS_PREFIX must be 1–100 printable ASCII characters without spaces' })
  RATE_LIMIT_REDIS_PREFIX: string = 'provisio:rate-limit:';

  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[\x21-\x7e]{1,256}$/, { message: 'METRICS_TOKEN must be 1–256 printable ASCII characters without spaces' })
  METRICS_TOKEN?: string;

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

/** `KEY_CACHE_TTL_MS` → `keyCacheTtlMs`. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;

function camelCase(name: string): string {
  return name.toLowerCase().replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

type Variables = { readonly [K in Extract<keyof EnvironmentVariables, string> as CamelCase<K>]: EnvironmentVariables[K] };

/**
 * Every variable under its camelCase name, with the validated value — except `publicBaseUrl`,
 * which is always set (defaulting to `http://localhost:$PORT`, without a trailing slash).
 */
export type AppConfigValues = Omit<Variables, 'publicBaseUrl'> & { readonly publicBaseUrl: string };

function valuesClass<T extends object>(): new (values: T) => T {
  return class {
    constructor(values: T) {
      Object.assign(this, values);
    }
  } as new (values: T) => T;
}

/** The typed configuration other providers inject (a class, so that it is its own DI token). */
export class AppConfig extends valuesClass<AppConfigValues>() {}

/** A refusal to start that the deployer must fix: printed as its message alone (no stack). */
export class StartupRefusal extends Error {}

export class ConfigValidationError extends StartupRefusal {}

/**
 * Variables whose values are secrets (or hold one, like a password inside a URL): a validation
 * error names them but never prints their value.
 */
export const SECRET_VARIABLES = ['ADMIN_API_KEY', 'METRICS_TOKEN', 'DATABASE_URL', 'REDIS_URL', 'WEBHOOK_ENCRYPTION_KEY'];

/**
 * The secret strings of an environment: each secret variable's whole value, and the password (and
 * user info) inside a URL-valued one even when the URL does not parse. For scrubbing start-up output.
 */
export function secretValues(env: Record<string, string | undefined>): string[] {
  const secrets = new Set<string>();
  for (const name of SECRET_VARIABLES) {
    const value = env[name]?.trim();
    if (!value) continue;
    secrets.add(value);
    // user:password@ of a URL, parsed by hand so a malformed URL is covered too.
    const userInfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(value)?.[1];
    if (userInfo) {
      secrets.add(userInfo);
      const password = userInfo.slice(userInfo.indexOf(':') + 1);
      if (userInfo.includes(':') && password) {
        secrets.add(password);
        try {
          secrets.add(decodeURIComponent(password));
        } catch {
          // not percent-encoded text: the raw form is covered
        }
      }
    }
  }
  // Longest first, so a URL is replaced whole before its password alone.
  return [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

/** `text` with every secret value of `env` replaced by `[redacted]`. */
export function redactSecretValues(text: string, env: Record<string, string | undefined>): string {
  let out = text;
  for (const secret of secretValues(env)) out = out.split(secret).join('[redacted]');
  return out;
}

/** Validates an environment record; throws naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const names = Object.keys(new EnvironmentVariables()) as Extract<keyof EnvironmentVariables, string>[];
  const raw: Record<string, unknown> = {};
  for (const name of names) {
    if (env[name] !== undefined) raw[name] = env[name];
  }
  const vars = plainToInstance(EnvironmentVariables, raw, { exposeDefaultValues: true });
  const errors = validateSync(vars, { skipMissingProperties: false });
  if (errors.length > 0) {
    // A secret's value is never echoed (it would land in logs): only its name.
    const lines = errors.map(
      (e) =>
        `${e.property}=${SECRET_VARIABLES.includes(e.property) ? '(value not shown)' : JSON.stringify(e.value)}: ` +
        Object.values(e.constraints ?? {}).join('; '),
    );
    throw new ConfigValidationError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const values = Object.fromEntries(names.map((name) => [camelCase(name), vars[name]])) as unknown as Variables;
  return new AppConfig({
    ...values,
    publicBaseUrl: (vars.PUBLIC_BASE_URL ?? `http://localhost:${vars.PORT}`).replace(/\/+$/, ''),
    adminEmail: vars.ADMIN_EMAIL.trim().toLowerCase(),
  });
}
/**
 * A URL of one of `protocols` that parses (checked without echoing it). The host may be empty:
 * `postgresql:///db?host=/run/postgresql` names a Unix socket.
 */
function IsConnectionUrl(protocols: string[], options: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isConnectionUrl',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          try {
            const url = new URL(value);
            return protocols.includes(url.protocol);
          } catch {
            return false;
          }
        },
      },
    },
    options,
  );
}

const NAMED_PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function isProxyAddress(entry: string): boolean {
  if (NAMED_PROXY_RANGES.includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (version === 4 ? 32 : 128);
}

function isTrustProxy(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) >= 1 && Number(text) <= 10;
  const entries = text.split(',').map((entry) => entry.trim());
  return entries.length > 0 && entries.every(isProxyAddress);
}

function IsTrustProxy(options: ValidationOptions) {
  return ValidateBy({ name: 'isTrustProxy', validator: { validate: isTrustProxy } }, options);
}

/**
 * TRUST_PROXY (validated) as Fastify's `trustProxy`: unset trusts nobody; a list of addresses and
 * ranges is given as is; a hop count becomes a function trusting the nearest `hops` addresses —
 * Fastify 5.12 takes a bare number as "trust nothing" (a hop count cannot check who the peer is),
 * while the deployer who sets one says exactly that the nearest hops are proxies.
 */
export function fastifyTrustProxy(
  trustProxy: string | undefined,
): false | string[] | ((address: string, hop: number) => boolean) {
  if (trustProxy === undefined) return false;
  const text = trustProxy.trim();
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    return (_address: string, hop: number) => hop < hops;
  }
  return text.split(',').map((entry) => entry.trim());
}
