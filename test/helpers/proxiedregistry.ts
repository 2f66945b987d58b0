// A registry behind a counting proxy, with the busybox base pushed through it as PROXY/base/busybox:1:
// the lab the cache and compression tests share. What it starts is added to `stops`.
import { storeWithBusybox, tsbuildOk } from './cli.js';
import { startProxy, startRegistry, type ProxyServer, type RegistryServer } from './registry.js';

export async function proxiedRegistryWithBase(stops: Array<() => Promise<void>>): Promise<{ reg: RegistryServer; proxy: ProxyServer }> {
  const reg = await startRegistry();
  stops.push(() => reg.stop());
  const proxy = await startProxy(reg);
  stops.push(() => proxy.stop());
  await tsbuildOk(['push', 'busybox:latest', `${proxy.host}/base/busybox:1`], { root: await storeWithBusybox() });
  return { reg, proxy };
}
