import express from 'express';
import type { AppDeps } from './deps';
import { errorMiddleware, notFoundRoute } from './errors';

/** Builds the Express app without listening, so tests start it on port 0. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb', strict: true }));

  // Routers are mounted here, one per resource (api/routes/<resource>.ts).

  app.use(notFoundRoute);
  app.use(errorMiddleware(deps.logger));
  return app;
}
