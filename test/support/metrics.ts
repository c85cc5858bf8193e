/** Reading the app's Prometheus metrics (GET /metrics) in tests. */

/**
 * The sum of the samples of metric `name` whose labels include `labels` (0 when there is none yet): every outcome of
 * `function="get_room"`, for instance, not only the first one listed.
 */
export async function metricCount(url: string, name: string, labels: string): Promise<number> {
  return sampleSum(await (await fetch(`${url}/metrics`)).text(), name, labels);
}

/**
 * In the text of one GET /metrics, the sum of the samples of metric `name` whose labels include each of `labels`
 * (`event="message:send"`, `le="0.05"`: each as written in the text, in any order); 0 when there is none.
 */
export function sampleSum(text: string, name: string, ...labels: string[]): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)))
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
