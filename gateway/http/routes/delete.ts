/**
 * DELETE of a study, a series or an instance: catalog rows and stored bytes (the space is freed).
 * Answers 204 No Content, or 404 when there is nothing to delete.
 */
import { Router, type Request, type Response } from 'express';
import { deleteInstances } from '../../services/delete.js';
import { accessOf } from '../authenticate.js';
import { uidParams, type AppDeps } from '../context.js';

/** The delete router. */
export function deleteRoutes(deps: AppDeps): Router {
  const router = Router();
  const handler = async (req: Request, res: Response) => {
    const scope = uidParams(req);
    const removed = await deleteInstances({ ...deps, audit: deps.access.audit, logger: req.log }, accessOf(req), scope, String(req.id));
    deps.metrics.recorder.instancesDeleted(removed);
    req.log.info({ removed }, 'deleted instances');
    res.status(204).end();
  };
  router.delete('/studies/:study', handler);
  router.delete('/studies/:study/series/:series', handler);
  router.delete('/studies/:study/series/:series/instances/:instance', handler);
  return router;
}
