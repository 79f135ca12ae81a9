/**
 * Builds the Express application: request ids and logs, CORS, request limits, health probes, the
 * DICOMweb routers under `/dicom-web` and the one error handler that maps catalogue codes to
 * statuses. It never listens: `cli/start.ts` does.
 */
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import { authenticate } from './authenticate.js';
import { auditRequests } from './audit-requests.js';
import { requestLog } from './request-log.js';
import { refuseMalformedTarget } from './request-target.js';
import { refuseUnmetExpectation } from './expectations.js';
import { headerValue } from './header-text.js';
import { readForwardedHeaders } from './forwarded.js';
import { minimumBodyRate } from './body-rate.js';
import { requestMetrics } from './request-metrics.js';
import { METRICS_PATH, metricsEndpoint } from './routes/metrics.js';
import { adminRoutes } from './routes/admin.js';
import { sessionRoutes, tokenRoutes } from './routes/auth.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { DICOMWEB_ROOT, type AppDeps } from './context.js';
import { deleteRoutes } from './routes/delete.js';
import { retrieveRoutes } from './routes/retrieve.js';
import { readThroughRoutes } from './routes/read-through.js';
import { searchRoutes } from './routes/search.js';
import { stowRoutes } from './routes/stow.js';
import { sendJsonText } from './json-response.js';
import { RECEIPT_KEYS_PATH, receiptKeySet } from '../services/receipts.js';
import { backendsNeededToWrite, Readiness } from '../services/readiness.js';

const EXPOSED_HEADERS = ['Content-Type', 'Content-Location', 'Content-Length', 'Warning', 'Retry-After', 'WWW-Authenticate', 'X-Request-Id'];

/** The Express app of the gateway. */
export function buildApp(deps: AppDeps): express.Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  let patterns: WeakMap<object, string> | undefined; // read once every route is in place
  app.use(requestMetrics(deps.metrics.recorder, (route) => (patterns ??= routePatterns(app)).get(route as object), deps.logger));
  app.use(readForwardedHeaders(config.server.trustedProxies));
  app.use(requestLog(deps.logger));
  app.use(auditRequests(deps.access.audit, deps.logger));
  app.use(refuseMalformedTarget);
  app.use(refuseUnmetExpectation);
  app.use(minimumBodyRate(config.limits, deps.logger));

  if (config.cors.origins.length > 0) {
    const any = config.cors.origins.includes('*');
    app.use(
      cors({
        origin: any ? true : [...config.cors.origins],
        exposedHeaders: EXPOSED_HEADERS,
        maxAge: 600,
      }),
    );
  }

  app.use(refuseLongQuery(config.limits.maxQueryLength));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readiness(deps));
  app.get(RECEIPT_KEYS_PATH, async (_req, res) => {
    // Public keys: whoever holds a receipt checks it against them, offline if they keep a copy.
    res.setHeader('Cache-Control', 'public, max-age=3600');
    sendJsonText(res, 200, 'application/jwk-set+json', JSON.stringify(await receiptKeySet(deps.keyring)));
  });

  // Public: probes, the receipt keys and the token endpoint (which checks credentials itself). Everything after
  // this point requires authentication, unknown paths included (they answer 401, not 404).
  const mounts = new Map<unknown, string>();
  const mount = (prefix: string, router: express.Router) => {
    mounts.set(router, prefix);
    app.use(prefix, router);
  };
  mount('/auth', tokenRoutes(deps.access));
  // The scrape token or an admin's credentials (routes/metrics.ts); disabled, it is an unknown path.
  if (config.metrics.enabled) app.get(METRICS_PATH, ...metricsEndpoint({ access: deps.access, token: deps.metrics.token, scrape: deps.metrics.scrape }));
  app.use(authenticate(deps.access));
  mount('/auth', sessionRoutes(deps.access));
  mount('/admin', adminRoutes(deps));

  const dicomweb = express.Router();
  dicomweb.use(stowRoutes(deps), searchRoutes(deps), ...(deps.upstream ? [readThroughRoutes(deps, deps.upstream)] : []), retrieveRoutes(deps), deleteRoutes(deps));
  mount(DICOMWEB_ROOT, dicomweb);
  MOUNTS.set(app, mounts);
  // A DICOMweb resource asked with a method it does not support: 405 with Allow (RFC 9110 §15.5.6).
  app.use(DICOMWEB_ROOT, (req, _res, next) => {
    const allowed = allowedMethods(dicomweb, req.path);
    if (allowed.length === 0) {
      next();
      return;
    }
    next(new GatewayError('METHOD_NOT_ALLOWED', `${req.method} is not supported on ${req.baseUrl}${req.path}; use ${allowed.join(', ')}`, { headers: { Allow: allowed.join(', ') } }));
  });

  app.use((req, _res, next) => next(new GatewayError('NOT_FOUND', `no resource at ${req.method} ${req.path}`)));
  app.use(errorHandler(deps));
  return app;
}

/** Refuses, with 414, a request whose query string is longer than `maxQueryLength` bytes. */
function refuseLongQuery(maxQueryLength: number) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const q = req.url.indexOf('?');
    if (q >= 0 && req.url.length - q - 1 > maxQueryLength) {
      next(new GatewayError('URI_TOO_LONG', `the query string exceeds ${maxQueryLength} bytes`));
      return;
    }
    next();
  };
}

/**
 * The readiness probe: 200 when the catalog and every backend a write needs answer, else 503 with
 * Retry-After; the body says per backend its kind, state, latency and error code.
 */
function readiness(deps: AppDeps) {
  const probes = new Readiness({ catalog: deps.catalog, stores: deps.stores, required: backendsNeededToWrite(deps.config) });
  return async (_req: Request, res: Response) => {
    const report = await probes.report();
    if (report.status !== 'ready') res.setHeader('Retry-After', '5');
    sendJsonText(res, report.status === 'ready' ? 200 : 503, 'application/json', JSON.stringify(report));
  };
}

/** The part of an Express 5 router layer that {@link allowedMethods} and {@link routeInventory} read. */
interface RouterLayer {
  match(path: string): unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: RouterLayer[] };
}

const MOUNTS = new WeakMap<express.Express, Map<unknown, string>>();

/** Every route of an app built by {@link buildApp}: method and full path pattern (route inventory). */
export function routeInventory(app: express.Express): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  walkRoutes(app, (route, path) => {
    for (const [method, on] of Object.entries(route.methods)) if (on) routes.push({ method: method === '_all' ? 'ALL' : method.toUpperCase(), path });
  });
  return routes;
}

/** The full path pattern of each route object of an app built by {@link buildApp} (the route label of the metrics). */
export function routePatterns(app: express.Express): WeakMap<object, string> {
  const patterns = new WeakMap<object, string>();
  walkRoutes(app, (route, path) => patterns.set(route, path));
  return patterns;
}

/** Calls `visit` with every route of the app and its full path pattern. */
function walkRoutes(app: express.Express, visit: (route: NonNullable<RouterLayer['route']>, path: string) => void): void {
  const mounts = MOUNTS.get(app) ?? new Map<unknown, string>();
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) visit(layer.route, prefix + layer.route.path);
      else if (layer.handle.stack) walk(layer.handle.stack, mounts.get(layer.handle) ?? prefix);
    }
  };
  walk((app.router as unknown as { stack: RouterLayer[] }).stack, '');
}

/** The methods the routes of `router` (and of the routers it uses) serve at `path`, sorted; HEAD with GET. */
function allowedMethods(router: { stack: unknown[] }, path: string): string[] {
  const methods = new Set<string>();
  for (const layer of router.stack as RouterLayer[]) {
    let matches: unknown;
    try {
      matches = layer.match(path);
    } catch {
      continue; // a path parameter that is not valid percent-encoding
    }
    if (!matches) continue;
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') methods.add(method.toUpperCase());
    } else if (layer.handle.stack) {
      for (const method of allowedMethods(layer.handle as { stack: RouterLayer[] }, path)) methods.add(method);
    }
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

function errorHandler(deps: AppDeps) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const log = req.log;
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === 'INTERNAL') log.error({ err: error }, 'unexpected error');
    else if (gatewayError.status >= 500) log.error({ err: gatewayError, code: gatewayError.code }, gatewayError.message);
    else log.info({ code: gatewayError.code, reason: gatewayError.message }, 'request refused');
    res.locals.errorCode = gatewayError.code;
    if (res.headersSent) {
      // The status is gone: a truncated body must not look complete.
      res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(gatewayError.headers)) res.setHeader(name, headerValue(value));
    const body = gatewayError.body ?? {
      error: {
        code: gatewayError.code,
        message: gatewayError.code === 'INTERNAL' ? 'internal error' : gatewayError.message,
        requestId: req.id,
      },
    };
    sendJsonText(res, gatewayError.status, gatewayError.body ? 'application/dicom+json' : 'application/json', JSON.stringify(body));
  };
}

function toGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  const status = (error as { status?: number; statusCode?: number })?.status ?? (error as { statusCode?: number })?.statusCode;
  if (status === 413) return new GatewayError('PAYLOAD_TOO_LARGE', 'the request body is too large', { cause: error });
  if (status === 400) return new GatewayError('BAD_REQUEST', 'the request is malformed', { cause: error });
  if (error instanceof URIError) return new GatewayError('BAD_REQUEST', 'the request path is not valid percent-encoding', { cause: error });
  return new GatewayError('INTERNAL', 'internal error', { cause: error });
}
