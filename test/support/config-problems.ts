/**
 * The problems `loadConfig` reports for a configuration object (none when it loads), for tests
 * that assert exactly what start-up refuses.
 */
import { ConfigError, loadConfig } from '../../gateway/config.js';

/** Every problem {@link loadConfig} reports for `object` with `env`; [] when it loads. */
export function configProblems(object: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig({ object, env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
