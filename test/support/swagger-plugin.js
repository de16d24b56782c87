// Runs the @nestjs/swagger CLI plugin under ts-jest, as `nest build` does through nest-cli.json.
module.exports = {
  name: 'nestjs-swagger-plugin',
  version: '1',
  factory: (cs) => require('@nestjs/swagger/plugin').before({ introspectComments: true, classValidatorShim: true }, cs.program),
};
