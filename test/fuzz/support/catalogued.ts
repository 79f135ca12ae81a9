/**
 * The invariant every fuzz target checks: the code under test returns, or throws a GatewayError
 * whose code is in the catalogue (and among the codes the target allows). Anything else (a
 * TypeError, a RangeError, a stack overflow, a string) is a defect, reported with its stack.
 */
import { ERROR_CATALOGUE, GatewayError, type ErrorCode } from '../../../gateway/errors.js';

/** Fails unless `error` is a catalogued GatewayError with one of `allowed` codes. */
export function assertCatalogued(error: unknown, allowed: readonly ErrorCode[]): asserts error is GatewayError {
  if (!(error instanceof GatewayError) || !(error.code in ERROR_CATALOGUE)) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : JSON.stringify(error);
    throw new Error(`not a catalogued GatewayError: ${detail}`);
  }
  if (!allowed.includes(error.code)) throw new Error(`GatewayError ${error.code} (${error.message}) is not one of ${allowed.join(', ')}`, { cause: error });
  if (error.message.length === 0) throw new Error(`GatewayError ${error.code} without a message`);
}

/** Runs `action`; its result, or undefined when it threw an allowed catalogued error. */
export function catalogued<T>(allowed: readonly ErrorCode[], action: () => T): T | undefined {
  try {
    return action();
  } catch (error) {
    assertCatalogued(error, allowed);
    return undefined;
  }
}

/** The async form of {@link catalogued}. */
export async function cataloguedAsync<T>(allowed: readonly ErrorCode[], action: () => Promise<T>): Promise<T | undefined> {
  try {
    return await action();
  } catch (error) {
    assertCatalogued(error, allowed);
    return undefined;
  }
}
