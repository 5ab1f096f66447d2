/**
 * The detection console (#17.3) on the pipeline's HTTP API: a small function that serves the page and its two
 * assets at GET / and GET /console/{asset}. The assets are built at synth from src/console (esbuild) and shipped
 * beside the function's index.mjs.
 *
 * Those two routes are the only ones without the API's authoriser: a browser cannot attach a bearer token when it
 * loads a page, and they serve only the page's code, never data. Every call the page makes (rules, alerts,
 * triage) carries the user's token and goes through the authoriser like any other caller's. The function's role
 * may write its own logs and nothing else.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import { HttpMethod, HttpNoneAuthorizer, HttpRoute, HttpRouteKey, type HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { writeConsoleAssets } from '../../src/console/build.js';
import { bundledFunctionBase, functionRoleAndLogs, vpcPlacement, type FunctionVpcProps } from './functions.js';
import { BUNDLED_CONSOLE_DIR, CONSOLE_ENTRY } from '../bundling.js';

export interface PipelineConsoleProps {
  api: HttpApi;
  logRetention: RetentionDays;
  /** The VPC placement every function of the stack gets, when the construct has one. */
  vpc?: FunctionVpcProps;
}

export interface PipelineConsole {
  fn: NodejsFunction;
  /** The public routes: GET / and GET /console/{proxy+}. */
  routes: HttpRoute[];
}

/** The public route paths the console answers. */
export const CONSOLE_ROUTE_PATHS = ['/', '/console/{proxy+}'] as const;

export function defineConsole(scope: Construct, props: PipelineConsoleProps): PipelineConsole {
  const assets = mkdtempSync(join(tmpdir(), 'stixflow-console-'));
  try {
    writeConsoleAssets(assets);
    const { role, logGroup } = functionRoleAndLogs(scope, 'Console', props.logRetention, props.vpc);
    const base = bundledFunctionBase(CONSOLE_ENTRY);
    const fn = new NodejsFunction(scope, 'Console', {
      ...base,
      description: 'stixflow: the detection console page (GET /, GET /console/*)',
      memorySize: 128,
      timeout: Duration.seconds(5),
      role,
      logGroup,
      environment: { CONSOLE_ASSETS_DIR: BUNDLED_CONSOLE_DIR },
      ...vpcPlacement(props.vpc),
      bundling: {
        ...base.bundling,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [
            `cp -R "${assets}" "${join(outputDir, BUNDLED_CONSOLE_DIR)}"`,
          ],
        },
      },
    });
    const integration = new HttpLambdaIntegration('ConsoleIntegration', fn);
    const routes = CONSOLE_ROUTE_PATHS.map(
      (path, i) =>
        new HttpRoute(scope, `ConsoleRoute${i}`, {
          httpApi: props.api,
          routeKey: HttpRouteKey.with(path, HttpMethod.GET),
          integration,
          authorizer: new HttpNoneAuthorizer(),
        }),
    );
    for (const route of routes)
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'the console page and its script and style are public code without data (a browser loads a page without a bearer token); every data call the page makes is authorised by the API',
      });
    return { fn, routes };
  } finally {
    // Bundling ran while the function was constructed: the staged assets are in its asset now.
    rmSync(assets, { recursive: true, force: true });
  }
}
