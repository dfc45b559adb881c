/**
 * The TUN adapter: the `TunDevice` port, the Linux device (`openLinuxTun`, through the addon in
 * native/tun, built at install) and its twin (`memoryTun`). Importing this module loads no
 * addon: `openLinuxTun` loads it on first use and says what is missing if it cannot.
 */
export { TUN_DEFAULT_BATCH, TUN_DROP_REASONS, type TunBatchHandler, type TunDevice, type TunDropReason, type TunStats } from './types.js';
export { openLinuxTun, TUN_ADDON_PATH, type LinuxTunOptions } from './linuxTun.js';
export { memoryTun, type MemoryTun, type MemoryTunHost, type MemoryTunOptions } from './memoryTun.js';
export { ipPacketProblem } from './tunPackets.js';
