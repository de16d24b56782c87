import { startTestApp, TestApp } from './support/app';

/** Every route of the contract that is implemented, with who may call it. */
const CONTRACT_ROUTES: { method: string; path: string; public?: boolean }[] = [
  { method: 'post', path: '/api/v1/admin/create-user' },
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
  { method: 'get', path: '/api/v1/claims/{token}', public: true },
  { method: 'post', path: '/api/v1/claims/{token}', public: true },
  { method: 'get', path: '/claim/{token}', public: true },
  { method: 'get', path: '/api/v1/billing/balance' },
  { method: 'get', path: '/api/v1/billing/ledger' },
  { method: 'get', path: '/api/v1/billing/usage' },
  { method: 'post', path: '/api/v1/billing/charges' },
  { method: 'post', path: '/api/v1/admin/credits' },
  { method: 'get', path: '/health', public: true },
  { method: 'get', path: '/health/ready', public: true },
];

interface Operation {
  security?: Record<string, string[]>[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
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
    'documents $method $path with its success and problem responses',
    ({ method, path, public: isPublic }) => {
      const operation = doc.paths[path]?.[method];
      expect(operation).toBeDefined();
      const statuses = Object.keys(operation.responses);
      expect(statuses.some((s) => s.startsWith('2'))).toBe(true);
      const errors = statuses.filter((s) => /^[45]/.test(s));
      expect(errors.length).toBeGreaterThan(0);
      for (const status of errors) {
        const schema = operation.responses[status].content?.['application/json']?.schema;
        if (path === '/claim/{token}') continue; // an HTML page: its errors are HTML too
        expect({ status, ref: schema?.$ref }).toEqual({ status, ref: '#/components/schemas/ProblemDto' });
      }
      if (!isPublic) {
        expect(operation.security).toEqual(expect.arrayContaining([{ api_key: [] }]));
        expect(statuses).toContain('401');
      }
    },
  );

  it('documents the fields of request and response bodies', () => {
    const schemas = doc.components.schemas as Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
    expect(Object.keys(schemas.CreateUserDto.properties ?? {})).toEqual(['email']);
    expect(schemas.CreateUserDto.required).toEqual(['email']);
    expect(Object.keys(schemas.CreatedUserDto.properties ?? {})).toEqual(expect.arrayContaining(['id', 'email', 'api_key']));
    expect(Object.keys(schemas.ProblemDto.properties ?? {})).toEqual(
      expect.arrayContaining(['type', 'title', 'status', 'detail', 'errors']),
    );
  });
});
