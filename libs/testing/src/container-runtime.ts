/**
 * Probes once whether a container runtime answers. Where one does, tests run their infrastructure
 * in containers (testcontainers); otherwise they use local services. `THK_TEST_CONTAINERS=0|1`
 * forces the choice.
 */
let probe: Promise<boolean> | undefined;

export function containersAvailable(): Promise<boolean> {
  const forced = process.env['THK_TEST_CONTAINERS'];
  if (forced === '0') return Promise.resolve(false);
  probe ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
      return true;
    } catch {
      if (forced === '1') throw new Error('THK_TEST_CONTAINERS=1 but no container runtime answers');
      return false;
    }
  })();
  return probe;
}
