/**
 * How the use cases name the DICOMweb resources they serve (PS3.18 §10.4, §10.5, §10.6): the URL
 * of a study, a series or an instance under the DICOMweb root as the client sees it (RetrieveURL,
 * BulkDataURI, Content-Location), and the one error for a study, series or instance that does not
 * exist, which a resource the policy hides answers alike by default.
 */
import type { InstanceScope } from '../catalog/catalog.js';
import { GatewayError } from '../errors.js';

/** The URL of a study under `baseUrl`, the absolute DICOMweb root. */
export function studyUrl(baseUrl: string, study: string): string {
  return `${baseUrl}/studies/${study}`;
}

/** The URL of a series under `baseUrl`, the absolute DICOMweb root. */
export function seriesUrl(baseUrl: string, study: string, series: string): string {
  return `${studyUrl(baseUrl, study)}/series/${series}`;
}

/** The URL of an instance under `baseUrl`, the absolute DICOMweb root. */
export function instanceUrl(baseUrl: string, study: string, series: string, instance: string): string {
  return `${seriesUrl(baseUrl, study, series)}/instances/${instance}`;
}

/** NOT_FOUND for the study, series or instance a scope names: "no series with that UID". */
export function notFound(scope: Omit<InstanceScope, 'study'>): GatewayError {
  return new GatewayError('NOT_FOUND', `no ${scope.instance ? 'instance' : scope.series ? 'series' : 'study'} with that UID`);
}
