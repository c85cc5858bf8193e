/** Reading the app's Prometheus metrics (GET /metrics) in tests. */

/**
 * The sum of the samples of metric `name` whose labels include `labels` (0 when there is none yet): every outcome of
 * `function="get_room"`, for instance, not only the first one listed.
 */
export async function metricCount(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/**
 * `metricCount` added up over the instances at `urls`: with several instances, the work counted may have been done
 * on any of them (a push is decided by the instance that stored the message).
 */
export async function metricSum(urls: readonly string[], name: string, labels: string): Promise<number> {
  const counts = await Promise.all(urls.map((url) => metricCount(url, name, labels)));
  return counts.reduce((sum, count) => sum + count, 0);
}

/** How many calls of the SQL function `fn` the instances at `urls` have made, all together. */
export function dbCallCount(urls: readonly string[], fn: string): Promise<number> {
  return metricSum(urls, 'db_call_duration_seconds_count', `function="${fn}"`);
}
