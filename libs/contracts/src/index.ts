export {
  OpenApiValidator,
  intercomContract,
  klaviyoContract,
  CONTRACTS_DIR,
  type ValidationResult,
} from './openapi-validator';
