import { startTestApp, TestApp } from './support/app';

/** Every route of the contract that is implemented, with who may call it. */
const CONTRACT_ROUTES: { method: string; path: string; public?: boolean }[] = [
  { method: 'post', path: '/api/v1/admin/create-user' },
  { method: 'post', path: '/api/v1/admin/create-users' },
  { method: 'get', path: '/api/v1/me' },
  { method: 'get', path: '/api/v1/users' },
  { method: 'get', path: '/api/v1/users/{id}' },
  { method: 'delete', path: '/api/v1/users/{id}' },
  { method: 'get', path: '/api/v1/api-keys' },
  { method: 'post', path: '/api/v1/api-keys' },
  { method: 'delete', path: '/api/v1/api-keys/{id}' },
  { method: 'post', path: '/api/v1/api-keys/{id}/rotate' },
  { method: 'post', path: '/api/v1/admin/users' },
  { method: 'patch', path: '/api/v1/admin/users/{id}' },
  { method: 'get', path: '/api/v1/admin/organizations' },
  { method: 'post', path: '/api/v1/provisions' },
  { method: 'get', path: '/api/v1/provisions' },
  { method: 'get', path: '/api/v1/provisions/{id}' },
  { method: 'delete', path: '/api/v1/provisions/{id}' },
  { method: 'patch', path: '/api/v1/provisions/{id}' },
  { method: 'post', path: '/api/v1/provisions/{id}/reissue' },
  { method: 'get', path: '/api/v1/claims/{token}', public: true },
  { method: 'post', path: '/api/v1/claims/{token}', public: true },
  { method: 'get', path: '/claim/{token}', public: true },
  { method: 'get', path: '/api/v1/billing/balance' },
  { method: 'get', path: '/api/v1/billing/ledger' },
  { method: 'get', path: '/api/v1/billing/usage' },
  { method: 'post', path: '/api/v1/billing/charges' },
  { method: 'post', path: '/api/v1/admin/credits' },
  { method: 'get', path: '/health', public: true },
];

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }>; headers?: Record<string, unknown> }>;
  requestBody?: unknown;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: {
    paths: Record<string, Record<string, Operation>>;
    components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
  };

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.http().get('/docs-json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => t?.close());

  it('declares the X-API-Key security scheme', () => {
    expect(doc.components.securitySchemes.api_key).toEqual(
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
    );
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await t.http().get('/docs').redirects(1);
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger');
  });

  it.each(CONTRACT_ROUTES)(
    'documents $method $path with a success and a problem response',
    ({ method, path, public: isPublic }) => {
      const operation = doc.paths[path]?.[method];
      expect(operation).toBeDefined();
      const statuses = Object.keys(operation.responses);
      expect(statuses.some((s) => s.startsWith('2'))).toBe(true);
      expect(statuses.filter((s) => /^[45]/.test(s)).length).toBeGreaterThan(0);
      if (!isPublic) {
        expect(operation.security).toEqual(expect.arrayContaining([{ api_key: [] }]));
        expect(statuses).toContain('401');
      }
    },
  );

  it('documents every error response of every route as a ProblemDto, in application/json and application/problem+json', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      if (path === '/health') continue; // terminus documents its own 503 body
      if (path === '/claim/{token}') continue; // an HTML page: its errors are HTML too
      for (const [method, operation] of Object.entries(item)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (!/^[45]/.test(status)) continue;
          const route = `${method} ${path} ${status}`;
          const refs = ['application/json', 'application/problem+json'].map((type) => response.content?.[type]?.schema?.$ref);
          expect({ route, refs }).toEqual({
            route,
            refs: ['#/components/schemas/ProblemDto', '#/components/schemas/ProblemDto'],
          });
        }
      }
    }
  });

  it('documents the statuses each billing, provision and claim route answers', () => {
    const statusesOf = (method: string, path: string) => Object.keys(doc.paths[path][method].responses).sort();
    expect(statusesOf('post', '/api/v1/billing/charges')).toEqual(['201', '400', '401', '402', '409', '422', '429']);
    expect(statusesOf('post', '/api/v1/admin/credits')).toEqual(['201', '400', '401', '403', '404', '409', '422', '429']);
    expect(statusesOf('get', '/api/v1/billing/ledger')).toEqual(['200', '400', '401', '403', '429']);
    expect(statusesOf('get', '/api/v1/billing/usage')).toEqual(['200', '400', '401', '403', '429']);
    expect(statusesOf('get', '/api/v1/billing/balance')).toEqual(['200', '401', '429']);
    expect(statusesOf('delete', '/api/v1/provisions/{id}')).toEqual(expect.arrayContaining(['204', '404', '409']));
    expect(statusesOf('post', '/api/v1/claims/{token}')).toEqual(expect.arrayContaining(['200', '404', '410']));
    expect(statusesOf('get', '/claim/{token}')).toEqual(expect.arrayContaining(['200', '404', '410']));
    expect(doc.paths['/claim/{token}'].get.responses['200'].content).toHaveProperty('text/html');
  });

  it('documents limit and cursor on every list route', () => {
    for (const path of [
      '/api/v1/users',
      '/api/v1/provisions',
      '/api/v1/api-keys',
      '/api/v1/billing/ledger',
      '/api/v1/admin/organizations',
    ]) {
      const names = (doc.paths[path].get.parameters ?? []).map((p) => p.name);
      expect({ path, names }).toEqual({ path, names: expect.arrayContaining(['limit', 'cursor']) });
    }
  });

  it('documents the Idempotency-Key header: required on charges and credits, accepted on create-user and provisions', () => {
    const charges = doc.paths['/api/v1/billing/charges'].post;
    expect(charges.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true })]),
    );
    expect(charges.responses['201'].headers).toHaveProperty('Idempotent-Replayed');
    expect(doc.paths['/api/v1/admin/credits'].post.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', required: true })]),
    );
    for (const path of ['/api/v1/admin/create-user', '/api/v1/provisions']) {
      expect(doc.paths[path].post.parameters?.map((p) => p.name)).toContain('Idempotency-Key');
    }
  });

  it('says what redocly lint (recommended) checks: a server, and security on every operation (`[]` when public)', () => {
    const document = doc as unknown as { servers?: unknown[]; paths: Record<string, Record<string, { security?: unknown[] }>> };
    expect(document.servers?.length).toBeGreaterThan(0);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        expect({ route: `${method} ${path}`, security: Array.isArray(operation.security) }).toEqual({
          route: `${method} ${path}`,
          security: true,
        });
      }
    }
    expect(doc.paths['/health'].get.security).toEqual([]);
    const limited = doc.paths['/api/v1/me'].get.responses['429'] as {
      headers: Record<string, unknown>;
      content: Record<string, { schema: unknown }>;
    };
    expect(Object.keys(limited.headers).sort()).toEqual([
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'Retry-After',
    ]);
    expect(limited.content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/ProblemDto' });
    expect(doc.paths['/health'].get.responses['429']).toBeUndefined();
    expect(doc.paths['/metrics'].get.responses['429']).toBeUndefined();
    expect(doc.paths['/claim/{token}'].get.security).toEqual([]);
    expect(doc.paths['/metrics'].get.security).toEqual(expect.arrayContaining([{}, { metrics_token: [] }]));
  });

  it('documents the fields of request and response bodies', () => {
    const schemas = doc.components.schemas as Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
    expect(Object.keys(schemas.CreateUserDto.properties ?? {}).sort()).toEqual(['email', 'external_id']);
    expect(schemas.CreateUserDto.required).toEqual(['email']);
    expect(Object.keys(schemas.CreatedUserDto.properties ?? {})).toEqual(expect.arrayContaining(['id', 'email', 'api_key']));
    expect(schemas.ApiKeyDto.properties?.scope).toEqual(expect.objectContaining({ enum: ['full', 'restricted'] }));
    expect(schemas.MeDto.properties?.scope).toEqual(expect.objectContaining({ enum: ['full', 'restricted'] }));
    expect(Object.keys(schemas.ClaimPreviewDto.properties ?? {})).toContain('transfer');
    expect(Object.keys(schemas.CreateCreditDto.properties ?? {}).sort()).toEqual(['amount', 'domain', 'reason']);
    expect(schemas.CreateCreditDto.required?.sort()).toEqual(['amount', 'domain']);
    expect(schemas.LedgerEntryDto.properties).toHaveProperty('balance_after');
    expect(Object.keys(schemas.ProblemDto.properties ?? {})).toEqual(
      expect.arrayContaining(['type', 'title', 'status', 'detail', 'errors']),
    );
  });

  it("documents the toolkit's routes and fields (issue 13)", () => {
    const schemas = doc.components.schemas as Record<
      string,
      { properties?: Record<string, Record<string, unknown>>; required?: string[] }
    >;
    const statusesOf = (method: string, path: string) => Object.keys(doc.paths[path][method].responses).sort();
    expect(statusesOf('post', '/api/v1/admin/create-users')).toEqual(['200', '400', '401', '403', '409', '422', '429']);
    expect(statusesOf('post', '/api/v1/provisions/{id}/reissue')).toEqual(['200', '400', '401', '403', '404', '409', '429']);
    expect(statusesOf('patch', '/api/v1/provisions/{id}')).toEqual(['200', '400', '401', '403', '404', '409', '429']);
    const ok = (method: string, path: string, status: string) =>
      doc.paths[path][method].responses[status].content?.['application/json']?.schema?.$ref;
    expect(ok('post', '/api/v1/admin/create-users', '200')).toBe('#/components/schemas/BulkCreateUsersResponseDto');
    expect(ok('post', '/api/v1/provisions/{id}/reissue', '200')).toBe('#/components/schemas/ReissuedProvisionDto');
    expect(ok('patch', '/api/v1/provisions/{id}', '200')).toBe('#/components/schemas/ProvisionDto');
    expect(schemas.CreateUsersDto.properties?.users).toMatchObject({
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: { $ref: '#/components/schemas/CreateUserDto' },
    });
    expect(schemas.BulkCreateUserResultDto.properties).toMatchObject({
      status: { type: 'integer' },
      user: { allOf: [{ $ref: '#/components/schemas/CreatedUserDto' }] },
      problem: { allOf: [{ $ref: '#/components/schemas/ProblemDto' }] },
    });
    expect(schemas.CreateProvisionDto.properties?.ttl_seconds).toMatchObject({
      type: 'integer',
      minimum: 3600,
      maximum: 2592000,
    });
    expect(schemas.CreateProvisionDto.properties?.external_id).toMatchObject({ type: 'string', minLength: 1, maxLength: 255 });
    expect(schemas.ReissueProvisionDto.properties?.ttl_seconds).toMatchObject({
      type: 'integer',
      minimum: 3600,
      maximum: 2592000,
    });
    expect(schemas.UpdateProvisionDto.required).toEqual(['expires_at']);
    expect(schemas.ReissuedProvisionDto.properties).toHaveProperty('claim_url');
    for (const name of ['UserDto', 'CreatedUserDto', 'MeDto']) expect(schemas[name].properties).toHaveProperty('external_id');
    expect((doc.paths['/api/v1/users'].get.parameters ?? []).map((p) => p.name)).toContain('external_id');
  });
});
