/**
 * A service's Prometheus `/metrics` at `baseUrl`, read once: the value of an unlabelled series by its
 * name (a histogram's `_sum` and `_count` among them), NaN when the text has none.
 */
export async function readMetrics(baseUrl: string): Promise<(name: string) => number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}
