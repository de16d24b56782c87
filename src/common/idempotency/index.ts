export * from './idempotency.decorators';
export * from './idempotency.interceptor';
export * from './idempotency.module';
export * from './idempotency.repository';
export * from './idempotency.service';
export * from './idempotency-key.entity';
export * from './idempotency-key.sweeper';
export * from './request-fingerprint';
