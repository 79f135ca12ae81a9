/**
 * WADO-RS routes (PS3.18 §10.4): instances of a study, series or instance as
 * `multipart/related; type="application/dicom"` (the exact stored bytes), their metadata as
 * `application/dicom+json`, frames and bulk data. Nothing is transcoded; what cannot be given as
 * asked is a 406 with the reason.
 */
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { frameMediaType } from '../../dicom/transfer-syntax.js';
import { GatewayError } from '../../errors.js';
import { authorizeStudy } from '../../services/authorization.js';
import { isFullView } from '../../deidentify/full-view.js';
import { VerifiedInstances, findInstances, instanceMetadataText, pixelLayout, readBulkData, readFrames, readInstance, streamInstance } from '../../services/retrieve.js';
import { bulkDataShown, hasBurnedInAnnotation, instanceInView, jsonInView } from '../../deidentify/views.js';
import type { StudyView } from '../../access/policy/policy.js';
import { accessOf } from '../authenticate.js';
import { dicomWebBase, uidParams, type AppDeps } from '../context.js';
import { MultipartWriter } from '../multipart.js';
import { negotiateBulkData, negotiateFrames, negotiateInstances, negotiateJson } from '../negotiate.js';

/** The WADO-RS router. */
export function retrieveRoutes(deps: AppDeps): Router {
  const router = Router();
  // Verified instances are kept a while: a viewer asks for the frames of one instance in many requests.
  const cacheBytes = deps.config.protection.verifiedCacheMiB * 1024 * 1024;
  const retrieval = { ...deps, verified: cacheBytes > 0 ? new VerifiedInstances(cacheBytes) : undefined };

  /**
   * The instances of the request's scope, after the policy allowed the action on their study; and
   * the view of it. Whole Part 10 instances leave the gateway as files: that is `export`; metadata,
   * frames and bulk data are what a viewer shows: `read`.
   */
  const readable = async (req: Request, scope: ReturnType<typeof uidParams>, action: 'read' | 'export' = 'read') => {
    const view = await authorizeStudy(deps.catalog.db, accessOf(req), action, scope.study, notFound(scope));
    return { view, rows: await findInstances(retrieval, scope) };
  };

  const instances = async (req: Request, res: Response) => {
    const scope = uidParams(req);
    const negotiation = negotiateInstances(req.headers.accept, scope.instance !== undefined);
    const { view, rows } = await readable(req, scope, 'export');
    const sendable = rows.filter((row) => negotiation.acceptable(row.transfer_syntax_uid));
    if (sendable.length === 0) {
      const stored = [...new Set(rows.map((r) => r.transfer_syntax_uid))].join(', ');
      throw new GatewayError(
        'NOT_ACCEPTABLE',
        `the instances are stored in transfer syntax ${stored}; Aegis returns them as stored: ask for transfer-syntax=* or that transfer syntax`,
      );
    }
    if (sendable.length < rows.length) {
      res.status(206).setHeader('Warning', `299 aegis "${rows.length - sendable.length} instances are not available in the requested transfer syntax and were omitted"`);
    }
    if (!isFullView(view)) return sendDerivedInstances(req, res, sendable, view, negotiation.multipart);
    if (!negotiation.multipart) {
      const [row] = sendable;
      res.setHeader('Content-Type', `application/dicom; transfer-syntax=${row.transfer_syntax_uid}`);
      res.setHeader('Content-Length', String(row.size));
      await pipeline(await streamInstance(retrieval, row), res);
      return;
    }
    const base = dicomWebBase(req, deps.config);
    const writer = new MultipartWriter(
      res,
      'application/dicom',
      sendable.map((row) => ({
        headers: {
          'Content-Type': `application/dicom; transfer-syntax=${row.transfer_syntax_uid}`,
          'Content-Length': String(row.size),
          'Content-Location': `${base}/studies/${row.study_uid}/series/${row.series_uid}/instances/${row.sop_instance_uid}`,
        },
        length: row.size,
      })),
    );
    // Open the next instance while the current one is sent.
    let next = streamInstance(retrieval, sendable[0]);
    for (let i = 0; i < sendable.length; i++) {
      const body = await next;
      if (i + 1 < sendable.length) {
        next = streamInstance(retrieval, sendable[i + 1]);
        next.catch(() => undefined);
      }
      await writer.writePart(body);
    }
    await writer.end();
  };

  const metadata = async (req: Request, res: Response) => {
    const scope = uidParams(req);
    const type = negotiateJson(req.headers.accept);
    const { view, rows } = await readable(req, scope);
    const base = dicomWebBase(req, deps.config);
    const texts = rows.map((row) => instanceMetadataText(row, base));
    res.status(200).type(type).send(`[${isFullView(view) ? texts.join(',') : texts.map((text) => JSON.stringify(jsonInView(JSON.parse(text), view))).join(',')}]`);
  };

  const frames = async (req: Request, res: Response) => {
    const scope = uidParams(req);
    const numbers = parseFrameList(req.params.frames as string);
    // Frames are pixel data only: every view shows them as stored (de-identification keeps pixels),
    // except that a de-identified view withholds pixels that declare burned-in annotation.
    const {
      view,
      rows: [row],
    } = await readable(req, scope);
    if (view.deidentify && hasBurnedInAnnotation(JSON.parse(row.metadata))) throw burnedIn();
    const layout = pixelLayout(row);
    const mediaType = layout.encapsulated ? layout.mediaType : 'application/octet-stream';
    const negotiation = negotiateFrames(req.headers.accept, row.transfer_syntax_uid, mediaType ?? frameMediaType(row.transfer_syntax_uid), numbers.length === 1);
    const bodies = await readFrames(retrieval, row, numbers);
    if (!negotiation.multipart) {
      res.status(200).setHeader('Content-Type', negotiation.partContentType);
      res.end(bodies[0]);
      return;
    }
    const base = dicomWebBase(req, deps.config);
    const partType = negotiation.partContentType.split(';')[0];
    const writer = new MultipartWriter(
      res,
      partType,
      bodies.map((body, i) => ({
        headers: {
          'Content-Type': negotiation.partContentType,
          'Content-Length': String(body.length),
          'Content-Location': `${base}/studies/${row.study_uid}/series/${row.series_uid}/instances/${row.sop_instance_uid}/frames/${numbers[i]}`,
        },
        length: body.length,
      })),
    );
    for (const body of bodies) await writer.writePart(body);
    await writer.end();
  };

  const bulkdata = async (req: Request, res: Response) => {
    const scope = uidParams(req);
    const path = ([] as string[]).concat(req.params.path as unknown as string[]).join('/');
    const negotiation = negotiateBulkData(req.headers.accept);
    const {
      view,
      rows: [row],
    } = await readable(req, scope);
    // A value the view removes or replaces is not there for this subject.
    if (!bulkDataShown(JSON.parse(row.metadata), path, view)) throw new GatewayError('NOT_FOUND', `the instance has no bulk data at ${path}`);
    const value = await readBulkData(retrieval, row, path);
    if (!negotiation.multipart) {
      res.status(200).setHeader('Content-Type', 'application/octet-stream');
      res.end(value);
      return;
    }
    const writer = new MultipartWriter(res, 'application/octet-stream', [
      { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(value.length) }, length: value.length },
    ]);
    await writer.writePart(value);
    await writer.end();
  };

  /** Instances in a view other than as stored: each derived in memory, then sent with its length. */
  const sendDerivedInstances = async (req: Request, res: Response, rows: Awaited<ReturnType<typeof findInstances>>, view: StudyView, multipart: boolean) => {
    if (view.deidentify && rows.some((row) => hasBurnedInAnnotation(JSON.parse(row.metadata)))) throw burnedIn();
    const derived = async (row: (typeof rows)[number]) => instanceInView(await readInstance(retrieval, row), view);
    if (!multipart) {
      const bytes = await derived(rows[0]);
      res.setHeader('Content-Type', `application/dicom; transfer-syntax=${rows[0].transfer_syntax_uid}`);
      res.setHeader('Content-Length', String(bytes.length));
      res.end(bytes);
      return;
    }
    const base = dicomWebBase(req, deps.config);
    const parts = [];
    for (const row of rows) parts.push({ row, bytes: await derived(row) });
    const writer = new MultipartWriter(
      res,
      'application/dicom',
      parts.map(({ row, bytes }) => ({
        headers: {
          'Content-Type': `application/dicom; transfer-syntax=${row.transfer_syntax_uid}`,
          'Content-Length': String(bytes.length),
          'Content-Location': `${base}/studies/${row.study_uid}/series/${row.series_uid}/instances/${row.sop_instance_uid}`,
        },
        length: bytes.length,
      })),
    );
    for (const { bytes } of parts) await writer.writePart(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    await writer.end();
  };

  const rendered = async (req: Request) => {
    const scope = uidParams(req);
    await authorizeStudy(deps.catalog.db, accessOf(req), 'read', scope.study, notFound(scope));
    throw new GatewayError('NOT_ACCEPTABLE', 'rendered representations are not provided by this gateway; retrieve frames or instances');
  };

  router.get('/studies/:study', instances);
  router.get('/studies/:study/series/:series', instances);
  router.get('/studies/:study/series/:series/instances/:instance', instances);
  router.get('/studies/:study/metadata', metadata);
  router.get('/studies/:study/series/:series/metadata', metadata);
  router.get('/studies/:study/series/:series/instances/:instance/metadata', metadata);
  router.get('/studies/:study/series/:series/instances/:instance/frames/:frames', frames);
  router.get('/studies/:study/series/:series/instances/:instance/bulkdata/*path', bulkdata);
  router.get('/studies/:study/rendered', rendered);
  router.get('/studies/:study/series/:series/rendered', rendered);
  router.get('/studies/:study/series/:series/instances/:instance/rendered', rendered);
  router.get('/studies/:study/series/:series/instances/:instance/frames/:frames/rendered', rendered);
  return router;
}

/** The refusal of pixels that may show identity to a subject who gets a de-identified view. */
function burnedIn(): GatewayError {
  return new GatewayError('FORBIDDEN', 'the instance declares burned-in annotation (identity may be in its pixels): it is not available de-identified');
}

/** What a missing study, series or instance answers (a denied one answers the same, by default). */
function notFound(scope: { series?: string; instance?: string }): string {
  return `no ${scope.instance ? 'instance' : scope.series ? 'series' : 'study'} with that UID`;
}

/** Parses `1,3,5` into frame numbers (1-based); INVALID_FRAME_LIST for anything else. */
export function parseFrameList(text: string): number[] {
  const items = text.split(',');
  if (items.length > 10_000 || !items.every((s) => /^[1-9]\d{0,8}$/.test(s.trim()))) {
    throw new GatewayError('INVALID_FRAME_LIST', `'${text.slice(0, 64)}' is not a comma-separated list of frame numbers (1-based)`);
  }
  return items.map((s) => Number(s.trim()));
}
