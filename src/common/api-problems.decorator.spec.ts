import { Controller, Get, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ApiProblems } from './api-problems.decorator';
import { Idempotent } from './idempotency';

@ApiProblems({ 400: 'Invalid parameters.' })
@Controller('things')
class ThingsController {
  @Get()
  @ApiProblems({ 404: 'No such thing.', 410: 'The thing is gone.' })
  list(): string[] {
    return [];
  }

  @Post()
  @Idempotent()
  @ApiProblems({ 409: 'The thing exists.' })
  create(): string {
    return 'made';
  }
}

@Module({ controllers: [ThingsController] })
class ThingsModule {}

const PROBLEM = { schema: { $ref: '#/components/schemas/ProblemDto' } };

describe('@ApiProblems', () => {
  let app: NestFastifyApplication;
  let document: OpenAPIObject;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(ThingsModule, new FastifyAdapter(), { logger: false });
    document = SwaggerModule.createDocument(app, { openapi: '3.0.0', info: { title: 't', version: '1' } });
  });
  afterAll(async () => app?.close());

  it('documents each status with its description and the ProblemDto body as application/problem+json', () => {
    const responses = document.paths['/things'].get!.responses;
    expect(responses['404']).toEqual({
      description: 'No such thing.',
      content: { 'application/problem+json': PROBLEM, 'application/json': PROBLEM },
    });
    expect(responses['410']).toMatchObject({ description: 'The thing is gone.' });
    expect(document.components?.schemas?.ProblemDto).toBeDefined();
  });

  it('on a controller, documents the statuses on each of its routes', () => {
    for (const operation of [document.paths['/things'].get!, document.paths['/things'].post!]) {
      expect(operation.responses['400']).toEqual({
        description: 'Invalid parameters.',
        content: { 'application/problem+json': PROBLEM, 'application/json': PROBLEM },
      });
    }
  });

  it("joins a route's description of a status with @Idempotent()'s, the lower decorator's first", () => {
    const responses = document.paths['/things'].post!.responses;
    expect(responses['409']).toMatchObject({
      description: 'The thing exists.\n\nA request with this Idempotency-Key is still being processed.',
    });
    expect(responses['422']).toMatchObject({ description: 'The Idempotency-Key was already used for a different request.' });
  });
});
