/**
 * The rendered and thumbnail routes of WADO-RS (PS3.18 §10.4.1.1.3): `.../rendered` and
 * `.../thumbnail` of a study, series, instance or frame, answered with one image in a rendered
 * media type (image/jpeg by default, image/png, image/gif). Thin: the request is parsed by
 * `rendered-request.ts` and the image made by `services/render.ts`; a render whose client closed
 * the connection before it was done is dropped.
 */
import type { Request, Response } from 'express';
import { GatewayError } from '../../errors.js';
import { renderResource, type RenderDeps } from '../../services/render.js';
import { accessOf } from '../authenticate.js';
import { uidParams, type AppDeps } from '../context.js';
import { warningValue } from '../header-text.js';
import { parseRenderedRequest } from '../rendered-request.js';
import { onResponseDone } from '../response-hooks.js';

/**
 * Answers a rendered resource (`thumbnail` false) or a thumbnail (true) of the request's study,
 * series or instance, or of the frame in `frames` (the parsed frame list of a frame resource).
 */
export async function sendRendered(deps: AppDeps & RenderDeps, req: Request, res: Response, thumbnail: boolean, frames?: number[]): Promise<void> {
  const scope = uidParams(req);
  const request = parseRenderedRequest(req, thumbnail);
  // A client that closed its connection waits for nothing: its render is dropped. A half-closed
  // one (the server allows half-open connections) still gets its answer: only 'close' counts.
  const gone = new AbortController();
  const cancel = () => gone.abort(new GatewayError('BAD_REQUEST', 'the client closed the connection before its image was rendered'));
  onResponseDone(res, deps.logger, 'render-cancel', (finished) => {
    if (!finished) cancel();
  });
  // A connection closed before this handler ran (while the request was authenticated) has already
  // said 'close': nobody waits for the image, and it must take no rendering place.
  if (res.destroyed || req.socket.destroyed) cancel();
  let image;
  try {
    image = await renderResource(deps, accessOf(req), scope, { ...request, thumbnail, frames, signal: gone.signal });
  } catch (error) {
    if (gone.signal.aborted) return; // nobody to answer
    throw error;
  }
  res.status(200);
  res.setHeader('Content-Type', image.mediaType);
  res.setHeader('Content-Length', String(image.bytes.length));
  res.setHeader('Cache-Control', 'private, no-store');
  if (request.annotation.length > 0) res.setHeader('Warning', warningValue(`annotation (${request.annotation.join(', ')}) is not rendered: the image shows the pixels only`));
  res.end(image.bytes);
}
