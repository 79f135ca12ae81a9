/**
 * Response hooks: every hook of a response runs once, in the order added, with whether the
 * response was sent completely; one that throws is logged and the others still run; and a
 * response's hooks share one 'finish' and one 'close' listener, whatever their number.
 */
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { onResponseDone } from '../../../gateway/http/response-hooks.js';

function response(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

describe('onResponseDone', () => {
  it('runs every hook once, in order, on one listener per event, and goes on past a hook that throws', () => {
    const res = response();
    const errors: string[] = [];
    const logger = { error: (details: Record<string, unknown>, message: string) => errors.push(`${String(details.hook)}: ${message}`) };
    const ran: string[] = [];
    onResponseDone(res, logger, 'first', (finished) => ran.push(`first ${finished}`));
    onResponseDone(res, logger, 'broken', () => {
      throw new Error('boom');
    });
    onResponseDone(res, logger, 'third', (finished) => ran.push(`third ${finished}`));
    assert.equal(res.listenerCount('close'), 1);
    assert.equal(res.listenerCount('finish'), 1);
    res.emit('close');
    res.emit('close');
    res.emit('finish');
    assert.deepEqual(ran, ['first false', 'third false']);
    assert.deepEqual(errors, ['broken: a response hook failed (broken); the process goes on']);
    assert.equal(res.listenerCount('close'), 0);
    assert.equal(res.listenerCount('finish'), 0);
  });

  it("tells a hook the response was sent completely on 'finish', and runs a hook added after that on the next end", () => {
    const res = response();
    const logger = { error: () => undefined };
    const ran: boolean[] = [];
    onResponseDone(res, logger, 'one', (finished) => ran.push(finished));
    Object.defineProperty(res, 'writableFinished', { value: true });
    res.emit('finish');
    onResponseDone(res, logger, 'late', (finished) => ran.push(finished));
    res.emit('close');
    assert.deepEqual(ran, [true, true]);
  });
});
