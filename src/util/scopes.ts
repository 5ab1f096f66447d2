/**
 * OAuth scopes of the HTTP API, shared by the shells that must agree on them: the Lambda handlers check them
 * (functions/config.ts) and the CDK construct configures API Gateway with them (infra/pipeline-construct.ts),
 * and neither shell may import the other.
 */

/** The scope PATCH /rules/{id} requires under JWT authorisation, unless the deployment names another. */
export const DEFAULT_RULES_ADMIN_SCOPE = 'stixflow/rules.admin';
