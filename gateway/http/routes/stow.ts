/**
 * STOW-RS routes (PS3.18 §10.5): `POST /studies` and `POST /studies/{study}` with a
 * `multipart/related; type="application/dicom"` body. Parts are stored as they arrive; the
 * response lists what was stored and what failed, with 200, 202 or 409.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type Request, type Response } from 'express';
import { GatewayError, isGatewayError } from '../../errors.js';
import { authorizeAction } from '../../services/authorization.js';
import { protectionSettings } from '../../services/protected-fragments.js';
import { storeInstances } from '../../services/stow.js';
import { forwardInstance } from '../../services/proxy/forward-stow.js';
import { accessOf } from '../authenticate.js';
import { dicomWebBase, uidParams, type AppDeps } from '../context.js';
import { warningValue } from '../header-text.js';
import { param, parseMediaType } from '../media-type.js';
import { readMultipart, type MultipartLimits, type RequestPart } from '../multipart.js';
import { negotiateJson } from '../negotiate.js';
import { sendJsonText } from '../json-response.js';

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
    };
    const parts = bodyParts(req, res, boundary, deps.config.limits);
    const { upstream } = deps;
    const forward = upstream?.config.forwardStow ? (bytes: Uint8Array, sop: string) => forwardInstance(upstream, bytes, sop) : undefined;
    const result = await storeInstances(storeDeps, { parts, study, baseUrl: dicomWebBase(req, deps.config), access, forward }).finally(() => {
      // A body not read to its end (a long epilogue) cannot be followed by another request.
      if (!req.complete) res.setHeader('Connection', 'close');
    });
    deps.metrics.recorder.instancesStored(result.stored);
    if (result.warnings.length > 0) {
      res.setHeader('Warning', result.warnings.map(warningValue).slice(0, 20));
      req.log.info({ stored: result.stored, failed: result.warnings.length }, 'stow: some instances were not stored');
    }
    sendJsonText(res, result.status, responseType, JSON.stringify(result.body));
  };
  router.post('/studies', handler);
  router.post('/studies/:study', handler);
  return router;
}

/** The parts of the request body as they arrive; a body that cannot be read closes the connection after the answer. */
async function* bodyParts(req: IncomingMessage, res: ServerResponse, boundary: string, limits: MultipartLimits): AsyncGenerator<RequestPart> {
  try {
    yield* readMultipart(req, boundary, limits);
  } catch (error) {
    if (isGatewayError(error)) res.setHeader('Connection', 'close');
    throw error;
  }
}

/** The longest multipart boundary taken: RFC 2046's 70 characters, with room for the clients that exceed it. */
const MAX_BOUNDARY_LENGTH = 200;

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
  // RFC 2046 says at most 70 characters, but real clients send longer ones (Orthanc: 73).
  if (boundary.length > MAX_BOUNDARY_LENGTH) throw new GatewayError('MALFORMED_MULTIPART', `the boundary is longer than ${MAX_BOUNDARY_LENGTH} characters`);
  return boundary;
}
