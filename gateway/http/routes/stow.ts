/**
 * STOW-RS routes (PS3.18 §10.5): `POST /studies` and `POST /studies/{study}` with a
 * `multipart/related; type="application/dicom"` body. Parts are stored as they arrive; the
 * response lists what was stored and what failed, with 200, 202 or 409.
 */
import { Router, type Request, type Response } from 'express';
import { GatewayError, isGatewayError } from '../../errors.js';
import { authorizeAction, storeAuthorizer } from '../../services/authorization.js';
import { protectionSettings } from '../../services/protected-fragments.js';
import { accessOf } from '../authenticate.js';
import { stowResponse, storeInstance, FailureReason, type StoreOutcome } from '../../services/store.js';
import { dicomWebBase, uidParams, type AppDeps } from '../context.js';
import { warningValue } from '../header-text.js';
import { param, parseMediaType } from '../media-type.js';
import { readMultipart } from '../multipart.js';
import { negotiateJson } from '../negotiate.js';

/** Instances of one request being stored at the same time. */
const PARTS_IN_FLIGHT = 4;

/** The STOW-RS router. */
export function stowRoutes(deps: AppDeps): Router {
  const router = Router();
  const handler = async (req: Request, res: Response) => {
    const study = req.params.study === undefined ? undefined : uidParams(req).study;
    const access = accessOf(req);
    authorizeAction(access, 'create'); // 403 before reading a body the policy would refuse whole
    const responseType = negotiateJson(req.headers.accept);
    const boundary = checkContentType(req.headers['content-type']);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > deps.config.limits.maxBodyBytes) {
      res.setHeader('Connection', 'close');
      throw new GatewayError('PAYLOAD_TOO_LARGE', `the body of ${declared} bytes exceeds the limit of ${deps.config.limits.maxBodyBytes}`);
    }
    const storeDeps = {
      catalog: deps.catalog,
      stores: deps.stores,
      ...protectionSettings(deps.config),
      keyring: deps.keyring,
      onConflict: deps.config.stow.onConflict,
      maxInflatedBytes: deps.config.limits.maxInflatedBytes,
      logger: req.log,
      authorize: storeAuthorizer(deps.catalog.db, access),
    };
    // Parts are stored while the next ones arrive: up to PARTS_IN_FLIGHT at once, so that one
    // instance's fsync overlaps the next one's parsing. Outcomes keep the order of the parts.
    const pending: Promise<StoreOutcome>[] = [];
    let settled = 0;
    let bodyError: unknown;
    try {
      for await (const part of readMultipart(req, boundary, deps.config.limits)) {
        pending.push(
          storeInstance(storeDeps, part, study).catch((error: unknown): StoreOutcome => {
            storeDeps.logger.error({ err: error }, 'storing an instance failed');
            return { ok: false, failureReason: FailureReason.processingFailure, reason: 'the instance could not be processed' };
          }),
        );
        if (pending.length - settled >= PARTS_IN_FLIGHT) await pending[settled++];
      }
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      bodyError = error;
    }
    const outcomes = await Promise.all(pending);
    const base = dicomWebBase(req, deps.config);
    const warnings = outcomes.filter((o) => !o.ok).map((o) => warningValue((o as { reason: string }).reason));
    if (bodyError) {
      res.setHeader('Connection', 'close');
      if (!outcomes.some((o) => o.ok)) throw bodyError;
      // Instances already stored stay stored; say what happened to the rest.
      warnings.push(warningValue(`${(bodyError as Error).message}; the remaining parts were not stored`));
      outcomes.push({ ok: false, failureReason: FailureReason.cannotUnderstand, reason: (bodyError as Error).message });
    }
    // A body not read to its end (a long epilogue) cannot be followed by another request.
    if (!req.complete) res.setHeader('Connection', 'close');
    if (outcomes.length === 0) throw new GatewayError('MALFORMED_MULTIPART', 'the request contains no parts');
    const { status, body } = stowResponse(outcomes, base, study);
    if (warnings.length > 0) {
      res.setHeader('Warning', warnings.slice(0, 20));
      req.log.info({ stored: outcomes.filter((o) => o.ok).length, failed: warnings.length }, 'stow: some instances were not stored');
    }
    res.status(status).type(responseType).send(JSON.stringify(body));
  };
  router.post('/studies', handler);
  router.post('/studies/:study', handler);
  return router;
}

/** Validates the request Content-Type and returns its boundary. */
function checkContentType(header: string | undefined): string {
  const media = header ? parseMediaType(header) : undefined;
  if (!media || media.type !== 'multipart' || media.subtype !== 'related') {
    throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', `STOW-RS takes multipart/related; type="application/dicom", not ${header ?? 'a body without Content-Type'}`);
  }
  const type = param(media, 'type');
  if (type !== undefined && type !== 'application/dicom') {
    throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', `multipart/related parts of type ${type} are not supported; send type="application/dicom"`);
  }
  const boundary = media.params.get('boundary')?.[0];
  if (!boundary) throw new GatewayError('MALFORMED_MULTIPART', 'the Content-Type has no boundary parameter');
  if (boundary.length > 70) throw new GatewayError('MALFORMED_MULTIPART', 'the boundary is longer than 70 characters (RFC 2046)');
  return boundary;
}
