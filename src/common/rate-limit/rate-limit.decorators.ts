import { SetMetadata } from '@nestjs/common';

export const NO_RATE_LIMIT_METADATA = 'provisio:no-rate-limit';

/** The route is not rate limited (health checks, metrics). */
export const NoRateLimit = () => SetMetadata(NO_RATE_LIMIT_METADATA, true);
