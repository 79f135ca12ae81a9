/**
 * QIDO-RS routes (PS3.18 §10.6): studies, series and instances searched from the catalog, at
 * every path the standard defines. Results are application/dicom+json arrays (200, `[]` when
 * nothing matches, PS3.18 CP-2473); warnings go in `Warning` headers.
 */
import { Router, type Request, type Response } from 'express';
import type { QidoLevel } from '../../catalog/query.js';
import { parseQidoQuery } from '../qido-query.js';
import { search } from '../../services/search.js';
import { mergedSearch } from '../../services/proxy/merged-search.js';
import { dicomWebBase, uidParams, type AppDeps } from '../context.js';
import { warningValue } from '../header-text.js';
import { negotiateJson } from '../negotiate.js';
import { accessOf } from '../authenticate.js';
import { sendJsonText } from '../json-response.js';

/** The QIDO-RS router. */
export function searchRoutes(deps: AppDeps): Router {
  const router = Router();
  const handler = (level: QidoLevel) => async (req: Request, res: Response) => {
    const scope: { study?: string; series?: string } = req.params.study === undefined ? {} : uidParams(req);
    const type = negotiateJson(req.headers.accept);
    const params = new URL(req.originalUrl, 'http://x').searchParams;
    const query = parseQidoQuery(params, level, { study: scope.study, series: scope.series }, { maxResults: deps.config.limits.maxQidoResults, maxScan: deps.config.limits.maxQidoScan });
    const base = dicomWebBase(req, deps.config);
    // Proxy mode: the catalog's results and the upstream PACS's, merged.
    const result = deps.upstream ? await mergedSearch(deps.catalog, deps.upstream, query, base, accessOf(req)) : await search(deps.catalog, query, base, accessOf(req));
    if (result.warnings.length > 0) res.setHeader('Warning', result.warnings.map(warningValue));
    sendJsonText(res, 200, type, JSON.stringify(result.matches));
  };
  router.get('/studies', handler('study'));
  router.get('/series', handler('series'));
  router.get('/instances', handler('instance'));
  router.get('/studies/:study/series', handler('series'));
  router.get('/studies/:study/instances', handler('instance'));
  router.get('/studies/:study/series/:series/instances', handler('instance'));
  return router;
}
