/**
 * WADO-RS routes (PS3.18 §10.4): instances of a study, series or instance as
 * `multipart/related; type="application/dicom"` (the exact stored bytes, or transcoded when the
 * client asks for another transfer syntax or takes the default, see services/transcode.ts), their
 * metadata as `application/dicom+json` or multipart `application/dicom+xml`, frames and bulk data;
 * rendered images and thumbnails (`rendered.ts`). What cannot be given as asked is a
 * 406 with the reason.
 */
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { frameMediaType, isEncapsulated } from '../../dicom/transfer-syntax.js';
import { transcodeTargets } from '../../dicom/transcodable.js';
import { GatewayError } from '../../errors.js';
import { VerifiedInstances, findReadable, instanceMetadataText, pixelLayout, readBulkData, readFrames, readInstance, streamInstance, type SeenInstance } from '../../services/retrieve.js';
import type { DegradedRead } from '../../services/protected-fragments.js';
import { instanceUrl } from '../../services/resources.js';
import { bulkDataInView, instanceBytesInView, instanceGiven, metadataInView, pixelsInView } from '../../deidentify/views.js';
import type { InstanceRow } from '../../catalog/catalog.js';
import { accessOf } from '../authenticate.js';
import { dicomWebBase, uidParams, type AppDeps } from '../context.js';
import { headerValue, warningValue } from '../header-text.js';
import { MultipartWriter } from '../multipart.js';
import { negotiateBulkData, negotiateFrames, negotiateInstances } from '../negotiate.js';
import { decodedFrames, decodedPixelData, notOffered, offeredText, transcodedInstance, transcodeInstance, type TranscodeDeps } from '../../services/transcode.js';
import { sendJsonText } from '../json-response.js';
import { negotiateMetadata } from '../negotiate-metadata.js';
import { sendMetadataXml } from '../metadata-xml.js';
import type { DicomJson } from '../../dicom/types.js';
import { sendRendered } from './rendered.js';
import { Limiter } from '../../services/limiter.js';
import type { RenderDeps } from '../../services/render.js';

/** Rendered images decoded and encoded at once per process (each holds up to 64 MiB of pixels). */
const RENDERS_AT_ONCE = 2;

/** The refusal of a render that finds as many waiting as limits.maxWaitingRenders allows. */
function rendersBusy(): GatewayError {
  return new GatewayError('SERVER_BUSY', `${RENDERS_AT_ONCE} images are being rendered and as many as allowed wait (limits.maxWaitingRenders); retry later`, {
    headers: { 'Retry-After': '1' },
  });
}

/** What the handlers share: the app's dependencies, the verified-instance cache of the retrieve service, transcoding and the bound on renders. */
type Retrieval = AppDeps & TranscodeDeps & RenderDeps;

/** A handler of the router, given the shared {@link Retrieval}. */
type RetrieveHandler = (retrieval: Retrieval, req: Request, res: Response) => Promise<void>;

/** The WADO-RS router. */
export function retrieveRoutes(deps: AppDeps): Router {
  const router = Router();
  // Verified instances are kept a while: a viewer asks for the frames of one instance in many requests.
  const cacheBytes = deps.config.protection.verifiedCacheMiB * 1024 * 1024;
  const retrieval: Retrieval = {
    ...deps,
    verified: cacheBytes > 0 ? new VerifiedInstances(cacheBytes) : undefined,
    shardConcurrency: deps.config.placement.concurrency,
    hedgeMs: deps.config.placement.hedgeMilliseconds,
    onDegradedRead: (read) => auditDegradedRead(deps, read),
    renders: new Limiter(RENDERS_AT_ONCE, { maxWaiting: deps.config.limits.maxWaitingRenders, full: rendersBusy }),
    transcodeLimits: { maxDecodedBytes: deps.config.limits.maxTranscodeBytes, maxSeconds: deps.config.limits.transcodeSeconds },
    // Always there, so that concurrent requests for one transcoded instance share one decoding.
    transcoded: new VerifiedInstances(Math.max(1, cacheBytes)),
  };
  const on = (handler: RetrieveHandler) => (req: Request, res: Response) => handler(retrieval, req, res);

  router.get('/studies/:study', on(instances));
  router.get('/studies/:study/series/:series', on(instances));
  router.get('/studies/:study/series/:series/instances/:instance', on(instances));
  router.get('/studies/:study/metadata', on(metadata));
  router.get('/studies/:study/series/:series/metadata', on(metadata));
  router.get('/studies/:study/series/:series/instances/:instance/metadata', on(metadata));
  router.get('/studies/:study/series/:series/instances/:instance/frames/:frames', on(frames));
  router.get('/studies/:study/series/:series/instances/:instance/bulkdata/*path', on(bulkdata));
  for (const [resource, thumbnail] of [
    ['rendered', false],
    ['thumbnail', true],
  ] as const) {
    router.get(`/studies/:study/${resource}`, on(rendered(thumbnail)));
    router.get(`/studies/:study/series/:series/${resource}`, on(rendered(thumbnail)));
    router.get(`/studies/:study/series/:series/instances/:instance/${resource}`, on(rendered(thumbnail)));
    router.get(`/studies/:study/series/:series/instances/:instance/frames/:frames/${resource}`, on(rendered(thumbnail)));
  }
  return router;
}

/**
 * A read that succeeded from k of n shards while others were missing, corrupt or unreachable: an
 * integrity event (the data is intact, its redundancy is not) naming the instance and the shards,
 * for `aegis repair`. Never throws (the audit path must not end a request or a process).
 */
function auditDegradedRead(deps: AppDeps, read: DegradedRead): void {
  try {
    const resource = { study: read.studyInstanceUid, series: read.seriesInstanceUid, instance: read.sopInstanceUid };
    deps.access.audit.record({ kind: 'integrity', actor: { name: 'aegis' }, action: 'read', resources: [resource], outcome: 'success', reason: `degraded read: ${read.summary}` });
    deps.logger.warn({ sopInstanceUid: read.sopInstanceUid, faults: read.faults }, 'degraded read: some shards are missing or corrupt (run aegis scrub, then aegis repair)');
  } catch (error) {
    deps.logger.error({ err: error }, 'the degraded read could not be audited');
  }
}

/** Instances of a study, series or instance: as stored, or derived in the subject's view. */
async function instances(retrieval: Retrieval, req: Request, res: Response): Promise<void> {
  const scope = uidParams(req);
  const negotiation = negotiateInstances(req.headers.accept, scope.instance !== undefined);
  const seen = await findReadable(retrieval, accessOf(req), scope, 'export');
  // Instances the decision refuses are left out; when that is all of them, its refusal answers.
  const given = seen.filter(({ view }) => view.instanceRefused === undefined);
  if (given.length === 0) instanceGiven(seen[0].view);
  const sendable = given.filter(({ row }) => negotiation.acceptable(row.transfer_syntax_uid));
  if (sendable.length === 0) {
    const stored = [...new Set(given.map(({ row }) => row.transfer_syntax_uid))];
    throw new GatewayError('NOT_ACCEPTABLE', `cannot provide the instances as ${req.headers.accept ?? '*/*'}: ${stored.map((ts) => `stored in transfer syntax ${ts}, ${offeredText(ts)}`).join('; ')}`);
  }
  const omitted = [
    ...(given.length < seen.length ? [`${seen.length - given.length} instances are not available in your view of the data (burned-in annotation)`] : []),
    ...(sendable.length < given.length ? [`${given.length - sendable.length} instances are not available in the requested transfer syntax`] : []),
  ];
  if (omitted.length > 0) res.status(206).setHeader('Warning', warningValue(`${omitted.join('; ')}: they were omitted`));
  const targets = sendable.map(({ row }) => negotiation.transferSyntaxFor(row.transfer_syntax_uid) ?? row.transfer_syntax_uid);
  if (!sendable[0].view.whole || sendable.some(({ row }, i) => targets[i] !== row.transfer_syntax_uid)) return sendDerivedInstances(retrieval, req, res, sendable, negotiation.multipart, targets);
  return sendStoredInstances(
    retrieval,
    req,
    res,
    sendable.map(({ row }) => row),
    negotiation.multipart,
  );
}

/** Instances as stored: streamed, each verified before its first byte. */
async function sendStoredInstances(retrieval: Retrieval, req: Request, res: Response, rows: InstanceRow[], multipart: boolean): Promise<void> {
  if (!multipart) {
    const [row] = rows;
    res.setHeader('Content-Type', headerValue(`application/dicom; transfer-syntax=${row.transfer_syntax_uid}`));
    res.setHeader('Content-Length', String(row.size));
    await pipeline(await streamInstance(retrieval, row), res);
    return;
  }
  const base = dicomWebBase(req, retrieval.config);
  const writer = new MultipartWriter(
    res,
    'application/dicom',
    rows.map((row) => ({
      headers: {
        'Content-Type': `application/dicom; transfer-syntax=${row.transfer_syntax_uid}`,
        'Content-Length': String(row.size),
        'Content-Location': instanceUrl(base, row.study_uid, row.series_uid, row.sop_instance_uid),
      },
      length: row.size,
    })),
  );
  // Open the next instance while the current one is sent.
  let next = streamInstance(retrieval, rows[0]);
  for (let i = 0; i < rows.length; i++) {
    const body = await next;
    if (i + 1 < rows.length) {
      next = streamInstance(retrieval, rows[i + 1]);
      next.catch(() => undefined);
    }
    await writer.writePart(body);
  }
  await writer.end();
}

/**
 * Instances in a view other than as stored, or transcoded to `targets` (one per instance): each
 * derived in memory, then sent with its length.
 */
async function sendDerivedInstances(retrieval: Retrieval, req: Request, res: Response, seen: SeenInstance[], multipart: boolean, targets: string[]): Promise<void> {
  const derived = async ({ row, view }: SeenInstance, i: number) => {
    if (targets[i] === row.transfer_syntax_uid) return instanceBytesInView(view, await readInstance(retrieval, row));
    if (view.whole) return transcodedInstance(retrieval, row, targets[i]);
    return transcodeInstance(instanceBytesInView(view, await readInstance(retrieval, row)), targets[i], retrieval.transcodeLimits);
  };
  if (!multipart) {
    const bytes = await derived(seen[0], 0);
    res.setHeader('Content-Type', headerValue(`application/dicom; transfer-syntax=${targets[0]}`));
    res.setHeader('Content-Length', String(bytes.length));
    res.end(bytes);
    return;
  }
  const base = dicomWebBase(req, retrieval.config);
  const parts = [];
  for (const [i, one] of seen.entries()) parts.push({ row: one.row, bytes: await derived(one, i), target: targets[i] });
  const writer = new MultipartWriter(
    res,
    'application/dicom',
    parts.map(({ row, bytes, target }) => ({
      headers: {
        'Content-Type': `application/dicom; transfer-syntax=${target}`,
        'Content-Length': String(bytes.length),
        'Content-Location': instanceUrl(base, row.study_uid, row.series_uid, row.sop_instance_uid),
      },
      length: bytes.length,
    })),
  );
  for (const { bytes } of parts) await writer.writePart(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  await writer.end();
}

/** The metadata of the instances of a study, series or instance, each in the subject's view. */
async function metadata(retrieval: Retrieval, req: Request, res: Response): Promise<void> {
  const scope = uidParams(req);
  const representation = negotiateMetadata(req.headers.accept);
  const seen = await findReadable(retrieval, accessOf(req), scope);
  const base = dicomWebBase(req, retrieval.config);
  const texts = seen.map(({ row, view }) => {
    const text = instanceMetadataText(row, base);
    return view.whole ? text : JSON.stringify(metadataInView(view, JSON.parse(text)));
  });
  if (representation.kind === 'xml') {
    const instances = seen.map(({ row }, i) => ({ json: JSON.parse(texts[i]) as DicomJson, url: instanceUrl(base, row.study_uid, row.series_uid, row.sop_instance_uid) }));
    return sendMetadataXml(res, instances);
  }
  sendJsonText(res, 200, representation.contentType, `[${texts.join(',')}]`);
}

/** Frames of an instance, as stored. */
async function frames(retrieval: Retrieval, req: Request, res: Response): Promise<void> {
  const scope = uidParams(req);
  const numbers = parseFrameList(req.params.frames as string);
  // Frames are pixel data only: shown as stored (de-identification keeps pixels) unless the decision withholds them.
  const [{ row, view }] = await findReadable(retrieval, accessOf(req), scope);
  pixelsInView(view);
  const layout = pixelLayout(row);
  const mediaType = layout.encapsulated ? layout.mediaType : 'application/octet-stream';
  const negotiation = negotiateFrames(req.headers.accept, row.transfer_syntax_uid, mediaType ?? frameMediaType(row.transfer_syntax_uid), numbers.length === 1);
  const bodies = negotiation.decode ? await decodedFrames(retrieval, row, numbers) : await readFrames(retrieval, row, numbers);
  if (!negotiation.multipart) {
    res.status(200).setHeader('Content-Type', negotiation.partContentType);
    res.end(bodies[0]);
    return;
  }
  const url = instanceUrl(dicomWebBase(req, retrieval.config), row.study_uid, row.series_uid, row.sop_instance_uid);
  const partType = negotiation.partContentType.split(';')[0];
  const writer = new MultipartWriter(
    res,
    partType,
    bodies.map((body, i) => ({
      headers: {
        'Content-Type': negotiation.partContentType,
        'Content-Length': String(body.length),
        'Content-Location': `${url}/frames/${numbers[i]}`,
      },
      length: body.length,
    })),
  );
  for (const body of bodies) await writer.writePart(body);
  await writer.end();
}

/** A bulk data value of an instance. */
async function bulkdata(retrieval: Retrieval, req: Request, res: Response): Promise<void> {
  const scope = uidParams(req);
  const path = ([] as string[]).concat(req.params.path as unknown as string[]).join('/');
  const negotiation = negotiateBulkData(req.headers.accept);
  const [{ row, view }] = await findReadable(retrieval, accessOf(req), scope);
  bulkDataInView(view, row.metadata, path);
  // Pixel data stored compressed is decoded unless the client takes it as stored (PS3.18 §8.7.3: the default is Explicit VR Little Endian).
  const asStored = negotiation.transferSyntax === '*' || negotiation.transferSyntax === row.transfer_syntax_uid;
  const decode = !asStored && path.toUpperCase() === '7FE00010' && isEncapsulated(row.transfer_syntax_uid);
  if (decode && !transcodeTargets(row.transfer_syntax_uid).includes(negotiation.transferSyntax)) throw notOffered(row.transfer_syntax_uid, negotiation.transferSyntax);
  const value = decode ? await decodedPixelData(retrieval, row) : await readBulkData(retrieval, row, path);
  if (!negotiation.multipart) {
    res.status(200).setHeader('Content-Type', 'application/octet-stream');
    res.end(value);
    return;
  }
  const writer = new MultipartWriter(res, 'application/octet-stream', [{ headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(value.length) }, length: value.length }]);
  await writer.writePart(value);
  await writer.end();
}

/** Rendered images and thumbnails (`rendered.ts`), made from the verified instance. */
function rendered(thumbnail: boolean): RetrieveHandler {
  return (retrieval, req, res) => sendRendered(retrieval, req, res, thumbnail, req.params.frames === undefined ? undefined : parseFrameList(req.params.frames as string));
}

/** Parses `1,3,5` into frame numbers (1-based); INVALID_FRAME_LIST for anything else. */
export function parseFrameList(text: string): number[] {
  const items = text.split(',');
  if (items.length > 10_000 || !items.every((s) => /^[1-9]\d{0,8}$/.test(s.trim()))) {
    throw new GatewayError('INVALID_FRAME_LIST', `'${text.slice(0, 64)}' is not a comma-separated list of frame numbers (1-based)`);
  }
  return items.map((s) => Number(s.trim()));
}
