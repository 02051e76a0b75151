// Validates an OpenAPI document with a third-party validator (@apidevtools/swagger-parser: the
// OpenAPI 3.1 JSON schema, then its own checks: $refs resolve, path parameters are declared,
// operation ids are unique).
//   node tests/tools/validate-openapi.mjs FILE
import SwaggerParser from "@apidevtools/swagger-parser";

try {
  const api = await SwaggerParser.validate(process.argv[2]);
  console.log(`valid OpenAPI ${api.openapi}: ${Object.keys(api.paths).length} paths`);
} catch (e) {
  console.error(`invalid: ${e.message}`);
  process.exit(1);
}
