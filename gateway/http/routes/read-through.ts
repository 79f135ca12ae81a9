/**
 * WADO-RS read-through of proxy mode (PS3.18 §10.4): the retrieve routes of a study that is not in
 * the catalog go to the upstream PACS (`services/proxy/`), after authentication and the policy's
 * decision on the upstream's description of the study; the answer is streamed back as it arrives
 * (bounded memory), with its status, Content-Type and Content-Length, and the upstream's URLs in
 * DICOM JSON rewritten to the gateway's. A study of the catalog passes on to the local routes.
 *
 * The upstream path is built from the validated parameters only (UIDs, frame numbers, bulk data
 * tags, rendering parameters), never copied from the request target, so no request reaches another
 * upstream resource than the one the decision was made for. A thumbnail is asked as the upstream's
 * rendered image at the thumbnail size.
 *
 * Only an answer in a media type of DICOMweb is passed on (multipart/related, DICOM, JSON, XML,
 * octet-stream, images but SVG, video), with `X-Content-Type-Options: nosniff`: an upstream's HTML
 * page (or SVG) would otherwise run in a browser on the gateway's origin, with its session.
 */
import { pipeline } from 'node:stream/promises';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { GatewayError } from '../../errors.js';
import { authorizeUpstreamStudy, inCatalog } from '../../services/proxy/read-through.js';
import { rewriteUrls } from '../../services/proxy/rewrite-urls.js';
import { upstreamFailure, type UpstreamClient } from '../../services/proxy/upstream-client.js';
import { accessOf } from '../authenticate.js';
import { dicomWebBase, uidParams, type AppDeps } from '../context.js';
import { headerValue } from '../header-text.js';
import { parseRenderedRequest } from '../rendered-request.js';
import { onResponseDone } from '../response-hooks.js';
import { THUMBNAIL_VIEWPORT } from '../../services/render.js';
import { parseFrameList } from './retrieve.js';

const INSTANCE = '/studies/:study/series/:series/instances/:instance';
/** The retrieve resources read through, each with its tail after the study, series or instance. */
const ROUTES = [
  '/studies/:study',
  '/studies/:study/series/:series',
  INSTANCE,
  '/studies/:study/metadata',
  '/studies/:study/series/:series/metadata',
  `${INSTANCE}/metadata`,
  `${INSTANCE}/frames/:frames`,
  `${INSTANCE}/bulkdata/*path`,
  `${INSTANCE}/bulk/*path`,
  '/studies/:study/rendered',
  '/studies/:study/series/:series/rendered',
  `${INSTANCE}/rendered`,
  `${INSTANCE}/frames/:frames/rendered`,
  '/studies/:study/thumbnail',
  '/studies/:study/series/:series/thumbnail',
  `${INSTANCE}/thumbnail`,
  `${INSTANCE}/frames/:frames/thumbnail`,
];

/** A bulk data path: tags (8 hex digits) and item indexes, separated by slashes. */
const BULK_PATH = /^[0-9A-Fa-f]{8}(?:\/(?:\d{1,9}|[0-9A-Fa-f]{8}))*$/;

/** The media types an answer of the upstream is passed on in (see the module header). */
const PASSED_MEDIA_TYPE = /^(?:multipart\/related|application\/(?:dicom|dicom\+json|json|dicom\+xml|octet-stream)|image\/(?!svg)[\w.+-]+|video\/[\w.+-]+)\s*(?:;|$)/i;

/** The read-through router, mounted before the local retrieve routes. */
export function readThroughRoutes(deps: AppDeps, upstream: UpstreamClient): Router {
  const router = Router();
  const handler = (req: Request, res: Response, next: NextFunction) => readThrough(deps, upstream, req, res, next);
  for (const path of ROUTES) router.get(path, handler);
  return router;
}

async function readThrough(deps: AppDeps, upstream: UpstreamClient, req: Request, res: Response, next: NextFunction): Promise<void> {
  const scope = uidParams(req);
  const target = upstreamPath(req, scope);
  if (await inCatalog(deps.catalog, scope.study)) {
    // `bulk/` is the upstream's name for bulk data; the catalog's instances answer at `bulkdata/`.
    if (target.includes('/bulk/')) throw new GatewayError('NOT_FOUND', 'the instance has no bulk data at that path; its BulkDataURIs name bulkdata/');
    next();
    return;
  }
  const abort = new AbortController();
  // The client went away before the answer was sent: the upstream request is abandoned too.
  onResponseDone(res, deps.logger, 'upstream-abort', (finished) => {
    if (!finished) abort.abort();
  });
  // Whole instances leave as files (export); metadata, frames, bulk data and rendered images are read.
  const action = /\/(metadata|frames|bulk|bulkdata|rendered|thumbnail)(\/|$)/.test(target) ? 'read' : 'export';
  await authorizeUpstreamStudy(upstream, accessOf(req), action, scope);
  const rendered = renderedQuery(req);
  const answer = await upstream.request(rendered ? target.replace(/\/(rendered|thumbnail)$/, `/rendered?${rendered.query}`) : target, { accept: rendered?.accept ?? req.headers.accept, signal: abort.signal });
  const contentType = answer.contentType ?? 'application/octet-stream';
  if (!PASSED_MEDIA_TYPE.test(contentType)) {
    answer.body.destroy();
    throw new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream PACS answered in ${headerValue(contentType.split(';')[0]).slice(0, 64)}, not a media type of DICOMweb: not passed on`);
  }
  const json = /^application\/(dicom\+)?json\b/i.test(contentType);
  res.status(answer.status);
  res.setHeader('Content-Type', headerValue(contentType));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // Rewritten JSON changes length: it goes chunked.
  if (answer.contentLength !== undefined && !json) res.setHeader('Content-Length', answer.contentLength);
  try {
    if (json) await pipeline(answer.body, rewriteUrls(upstream.rootUrl, dicomWebBase(req, deps.config)), res);
    else await pipeline(answer.body, res);
  } catch (error) {
    // Headers are sent: the error handler closes the connection rather than end a truncated body.
    throw upstreamFailure(error);
  }
}

/** The upstream path of a request, from its validated parameters (see the module header). */
function upstreamPath(req: Request, scope: { study: string; series?: string; instance?: string }): string {
  let path = `/studies/${scope.study}`;
  if (scope.series !== undefined) path += `/series/${scope.series}`;
  if (scope.instance !== undefined) path += `/instances/${scope.instance}`;
  const params = req.params as Record<string, unknown>;
  if (params.frames !== undefined) path += `/frames/${parseFrameList(params.frames as string).join(',')}`;
  if (params.path !== undefined) {
    const bulk = ([] as string[]).concat(params.path as string[]).join('/');
    if (!BULK_PATH.test(bulk)) throw new GatewayError('NOT_FOUND', 'no bulk data at that path');
    path += req.route.path.includes('/bulkdata/') ? `/bulkdata/${bulk}` : `/bulk/${bulk}`;
  }
  const tail = /\/(metadata|rendered|thumbnail)$/.exec(req.route.path as string);
  if (tail) path += `/${tail[1]}`;
  return path;
}

/** The window functions of a rendered request, as PS3.18 §8.3.5.1.4 names them in a query. */
const WINDOW_FUNCTIONS = { LINEAR: 'linear', LINEAR_EXACT: 'linear-exact', SIGMOID: 'sigmoid' } as const;

/**
 * The query and media type a rendered or thumbnail request asks the upstream for, rebuilt from its
 * validated parameters (viewport, window, quality); undefined for the other resources. A thumbnail
 * is asked as the upstream's rendered image at the thumbnail's viewport ({@link THUMBNAIL_VIEWPORT}
 * unless the request gives one), the way the catalog's are made: many PACS (Orthanc among them)
 * offer rendered images but no thumbnail resource.
 */
function renderedQuery(req: Request): { query: string; accept: string } | undefined {
  const resource = /\/(rendered|thumbnail)$/.exec(req.route.path as string)?.[1];
  if (resource === undefined) return undefined;
  const request = parseRenderedRequest(req, resource === 'thumbnail');
  const viewport = request.viewport ?? (resource === 'thumbnail' ? THUMBNAIL_VIEWPORT : undefined);
  const query = new URLSearchParams({ quality: String(request.quality) });
  if (viewport !== undefined) {
    const { vw, vh, source } = viewport;
    query.set('viewport', (source ? [vw, vh, source.sx, source.sy, source.sw, source.sh] : [vw, vh]).join(','));
  }
  if (request.window !== undefined) query.set('window', `${request.window.center},${request.window.width},${WINDOW_FUNCTIONS[request.window.function]}`);
  return { query: query.toString().replaceAll('%2C', ','), accept: request.mediaType };
}
