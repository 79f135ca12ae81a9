/**
 * The administration routes (mounted at `/admin`, behind authentication): `GET /admin/stats`, the
 * protection statistics of `aegis stats --json` (`services/stats.ts`). Only subjects the policy
 * allows the `admin` action (the built-in admin role always) get them; others get 403. The decision
 * goes to the audit trail with the request.
 */
import express, { type Request, type Response } from 'express';
import { authorizeAdmin } from '../../services/authorization.js';
import { protectionStats } from '../../services/admin/stats.js';
import { accessOf } from '../authenticate.js';
import type { AppDeps } from '../context.js';

/** The admin router. */
export function adminRoutes(deps: Pick<AppDeps, 'catalog' | 'config'>): express.Router {
  const router = express.Router();
  router.get('/stats', async (req: Request, res: Response) => {
    authorizeAdmin(accessOf(req));
    res.setHeader('Cache-Control', 'no-store');
    res.json(await protectionStats(deps.catalog, { backends: deps.config.backends.map((b) => b.name) }));
  });
  return router;
}
