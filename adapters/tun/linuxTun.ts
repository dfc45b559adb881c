/**
 * The real `TunDevice`: a Linux TUN interface (IFF_TUN | IFF_NO_PI) through our own N-API addon,
 * native/tun/tun.c (Node cannot issue TUNSETIFF by itself). The addon opens /dev/net/tun
 * non-blocking and waits on it with libuv's uv_poll (epoll): one wake-up reads up to
 * `batchSize` packets into a slab this object owns and hands them up in one call; idle, nothing
 * runs. Writes are one N-API call per batch: the device has IFF_VNET_HDR, and runs of packets of
 * one IPv4 TCP or UDP flow that the kernel's segmentation gives back byte for byte go down as one
 * GSO write (native/tun/coalesce.c; `stats().gso` counts them), the rest one write(2) each.
 * IPSEC_ES_TUN_GSO=0 opens the device without IFF_VNET_HDR.
 *
 * Set-up: the MTU and IFF_UP are set by the addon (interface ioctls); addresses and routes go
 * through iproute2 (`ip address add CIDR dev NAME`, `ip route add PREFIX dev NAME`, run with
 * execFile, no shell), so `addresses` and `routes` need the `ip` command. Everything needs root
 * or CAP_NET_ADMIN, in the caller's network namespace.
 *
 * The addon is looked up at native/tun/build/Release/ipsec_es_tun.node from the source tree or
 * from dist/; the environment variable IPSEC_ES_TUN_ADDON names another file (a sanitizer build).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpsecError } from '../../engine/errors.js';
import { checkWrites, deliverBatch, emptyTunStats, snapshotTunStats, tunBusy, tunClosed } from './tunPackets.js';
import { TUN_DEFAULT_BATCH, type TunBatchHandler, type TunDevice, type TunStats } from './types.js';

/**
 * Where `npm install` (scripts/build-native.mjs) puts the addon, relative to the package root.
 *
 * @example
 * const built = existsSync(new URL(`../${TUN_ADDON_PATH}`, import.meta.url));
 */
export const TUN_ADDON_PATH = 'native/tun/build/Release/ipsec_es_tun.node';

/**
 * Options of `openLinuxTun`.
 *
 * @example
 * const options: LinuxTunOptions = { name: 'ipsec0', mtu: 1400, addresses: ['10.99.0.1/24'] };
 */
export interface LinuxTunOptions {
  /** Interface name, at most 15 bytes; default: the kernel picks `tun0`, `tun1`, ... */
  name?: string;
  /** MTU to set (68..65535); default: the kernel's (1500). */
  mtu?: number;
  /** CIDRs to assign with `ip address add` once up, e.g. `['10.99.0.1/24', 'fd00::1/64']`. */
  addresses?: readonly string[];
  /** Prefixes to route through the device with `ip route add PREFIX dev NAME`, after the addresses. */
  routes?: readonly string[];
  /** Bring the link up (IFF_UP); default true. */
  up?: boolean;
  /** Most packets per `onBatch` call (1..1024); default 64. */
  batchSize?: number;
  /**
   * Bytes read per packet; longer packets are cut by the kernel and counted `truncated`.
   * Default: the MTU at open. Raise it with the MTU, not under the device's feet.
   */
  maxPacketBytes?: number;
  /** The clone device; default `/dev/net/tun`. */
  devicePath?: string;
}

type Handle = object;
interface TunAddon {
  open(path: string, name: string, mtu: number, up: boolean): [Handle, string, number];
  start(device: Handle, slab: Uint8Array, slotBytes: number, lengths: Int32Array, maxBatch: number, onWake: (count: number, errno: number) => void): void;
  stop(device: Handle): void;
  write(device: Handle, packets: readonly Uint8Array[], errnos: Int32Array): number;
  /** [GSO writes, packets in them, 1 when the device has IFF_VNET_HDR]. */
  gsoStats(device: Handle): [number, number, number];
  close(device: Handle, onClosed: (errno: number) => void): void;
}
type AddonError = Error & { errno?: number; syscall?: string };

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
// Linux's EBADFD (a TUN fd whose device was deleted), which os.constants.errno leaves out.
if (process.platform === 'linux' && !ERRNO_NAMES.has(77)) ERRNO_NAMES.set(77, 'EBADFD');
/** `EACCES`, or `errno 1234` for a number Node does not name. */
const errnoName = (errno: number): string => ERRNO_NAMES.get(errno) ?? `errno ${errno}`;

const NEEDS_PRIVILEGE = 'Creating a TUN device needs root or CAP_NET_ADMIN: run as root, or grant the capability (setcap cap_net_admin+ep "$(command -v node)")';
const NEEDS_DRIVER = 'A TUN device needs the Linux tun driver and its device node: load it (modprobe tun) or, in a container, pass it in (--device /dev/net/tun --cap-add NET_ADMIN)';

let addon: TunAddon | undefined;

/** Loads the addon from the source tree (adapters/tun) or the build (dist/adapters/tun). */
function loadAddon(): TunAddon {
  if (addon !== undefined) return addon;
  if (process.platform !== 'linux') throw new IpsecError('tun.unavailable', `TUN devices need Linux; this is ${process.platform}`);
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [process.env.IPSEC_ES_TUN_ADDON, resolve(here, '../..', TUN_ADDON_PATH), resolve(here, '../../..', TUN_ADDON_PATH)];
  const file = candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
  if (file === undefined) {
    throw new IpsecError('tun.unavailable', `the TUN addon is not built (${TUN_ADDON_PATH}): run \`npm run build:native\`; it needs make, a C compiler, python3 and Node's headers (npm_config_nodedir, e.g. /usr)`);
  }
  addon = createRequire(import.meta.url)(file) as TunAddon;
  return addon;
}

/** Turns an addon error into one that says what is needed. */
function openError(error: AddonError, path: string, name: string): IpsecError {
  const code = errnoName(error.errno ?? 0);
  const detail = `${error.syscall ?? 'open'}: ${code} (${error.message.replace(/^[^:]*: /, '')})`;
  const what = error.syscall === 'open' ? `cannot open ${path}` : `cannot create TUN device ${name || 'tun%d'}`;
  if (code === 'EACCES' || code === 'EPERM') return new IpsecError('tun.permission', `${what}: ${detail}. ${NEEDS_PRIVILEGE}`, { cause: error });
  if (error.syscall === 'open' && (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO')) {
    return new IpsecError('tun.unavailable', `${what}: ${detail}. ${NEEDS_DRIVER}`, { cause: error });
  }
  if (code === 'EBUSY') return new IpsecError('tun.busy', `${what}: ${detail}: another process holds ${name}`, { cause: error });
  if (code === 'EINVAL' && error.syscall === 'ioctl(TUNSETIFF)') {
    return new IpsecError('config.invalid', `${what}: ${detail}: ${name} exists and is not a TUN device, or the name is not valid`, { cause: error });
  }
  return new IpsecError('tun.openFailed', `${what}: ${detail}`, { cause: error });
}

function requireInt(value: number | undefined, argument: string, min: number, max: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`${argument}: must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function validate(options: LinuxTunOptions): void {
  const name = options.name ?? '';
  if (typeof name !== 'string' || Buffer.byteLength(name) > 15 || /[\s/:]/.test(name) || name === '.' || name === '..') {
    throw new RangeError(`options.name: must be an interface name of at most 15 bytes without spaces, '/' or ':', got ${JSON.stringify(name)}`);
  }
  requireInt(options.mtu, 'options.mtu', 68, 65535);
  requireInt(options.batchSize, 'options.batchSize', 1, 1024);
  requireInt(options.maxPacketBytes, 'options.maxPacketBytes', 20, 65535);
  for (const key of ['addresses', 'routes'] as const) {
    for (const [i, cidr] of (options[key] ?? []).entries()) {
      if (typeof cidr !== 'string' || !/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(cidr)) throw new RangeError(`options.${key}[${i}]: must be a CIDR like 10.0.0.0/24 or fd00::/64, got ${JSON.stringify(cidr)}`);
    }
  }
}

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error === null) return resolvePromise();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      const why = missing ? 'the `ip` command (iproute2) is needed to assign addresses' : String(stderr).trim() || error.message;
      reject(new IpsecError('tun.config', `ip ${args.join(' ')}: ${why}`, { cause: error }));
    });
  });
}

class LinuxTun implements TunDevice {
  readonly #addon: TunAddon;
  readonly #handle: Handle;
  readonly #slotBytes: number;
  readonly #slab: Uint8Array;
  readonly #lengths: Int32Array;
  readonly #batch: Uint8Array[] = [];
  readonly #stats: TunStats = emptyTunStats();
  #verdicts = new Int32Array(TUN_DEFAULT_BATCH);
  #reader: object | undefined;
  #closing: Promise<void> | undefined;

  constructor(a: TunAddon, handle: Handle, readonly name: string, readonly mtu: number, readonly batchSize: number, maxPacketBytes: number) {
    this.#addon = a;
    this.#handle = handle;
    this.#slotBytes = maxPacketBytes;
    this.#slab = new Uint8Array(batchSize * maxPacketBytes);
    this.#lengths = new Int32Array(batchSize);
  }

  read(onBatch: TunBatchHandler, onError?: (error: Error) => void): () => void {
    if (this.#closing) throw tunClosed(this.name, 'read');
    if (this.#reader) throw tunBusy(this.name);
    if (typeof onBatch !== 'function') throw new TypeError('onBatch: must be a function');
    const reader = {};
    this.#reader = reader;
    this.#addon.start(this.#handle, this.#slab, this.#slotBytes, this.#lengths, this.batchSize, (count, errno) => {
      if (count > 0) deliverBatch(this.#slab, this.#slotBytes, this.#lengths, count, this.#batch, this.#stats, onBatch, onError);
      if (errno === 0) return;
      // The addon stopped polling (EPOLLERR or a read error): the device is gone or broken.
      if (this.#reader === reader) this.#reader = undefined;
      const failure = new IpsecError('tun.readFailed', `TUN device ${this.name}: reading failed with ${errnoName(errno)}; the device was deleted (ip link delete) or its driver went away: close() it and open a new one`);
      if (onError === undefined) throw failure;
      onError(failure);
    });
    return () => {
      if (this.#reader !== reader) return;
      this.#reader = undefined;
      if (!this.#closing) this.#addon.stop(this.#handle);
    };
  }

  write(packets: readonly Uint8Array[]): number {
    if (this.#closing) throw tunClosed(this.name, 'write');
    if (!Array.isArray(packets)) throw new TypeError('packets: must be an array of Uint8Array');
    const verdicts = (this.#verdicts = checkWrites(packets, this.#verdicts, this.#stats));
    const written = this.#addon.write(this.#handle, packets, verdicts);
    for (let i = 0; i < packets.length; i++) {
      const verdict = verdicts[i] ?? 0;
      if (verdict === 0) this.#stats.txBytes += packets[i]?.length ?? 0;
      else if (verdict > 0) {
        this.#stats.drops.deviceError++;
        this.#stats.lastDeviceError = errnoName(verdict);
      }
    }
    this.#stats.txPackets += written;
    return written;
  }

  stats(): TunStats {
    const s = snapshotTunStats(this.#stats);
    if (this.#closing) return s;
    const [writes, packets, vnet] = this.#addon.gsoStats(this.#handle);
    return vnet ? { ...s, gso: { writes, packets } } : s;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolvePromise, reject) => {
      this.#reader = undefined;
      this.#addon.close(this.#handle, (errno) => {
        if (errno === 0) resolvePromise();
        else reject(new IpsecError('tun.closeFailed', `TUN device ${this.name}: close failed with ${errnoName(errno)}`));
      });
    });
    return this.#closing;
  }
}

/**
 * Creates a Linux TUN interface (IFF_TUN | IFF_NO_PI: one read or write = one IP packet), sets
 * its MTU, brings it up, assigns `addresses` and adds `routes`, in the caller's network
 * namespace. The device disappears when it is closed or the process ends (it is not persistent).
 *
 * Throws an `IpsecError`: `tun.unavailable` (not Linux, the addon is not built, no
 * /dev/net/tun or no tun driver), `tun.permission` (neither root nor CAP_NET_ADMIN),
 * `tun.busy` (the name is held by another process), `tun.config` (an address or route could not
 * be added; the device is closed again); a `RangeError` names a bad option.
 *
 * @example
 * const tun = await openLinuxTun({ name: 'ipsec0', mtu: 1400, addresses: ['10.99.0.1/24'] });
 * const stop = tun.read((packets) => outbound(packets)); // views, valid during the call
 * tun.write(decapsulated);
 */
export async function openLinuxTun(options: LinuxTunOptions = {}): Promise<TunDevice> {
  validate(options);
  const a = loadAddon();
  const path = options.devicePath ?? '/dev/net/tun';
  const name = options.name ?? '';
  let opened: [Handle, string, number];
  try {
    opened = a.open(path, name, options.mtu ?? 0, options.up ?? true);
  } catch (error) {
    throw openError(error as AddonError, path, name);
  }
  const [handle, actualName, mtu] = opened;
  const device = new LinuxTun(a, handle, actualName, mtu, options.batchSize ?? TUN_DEFAULT_BATCH, options.maxPacketBytes ?? mtu);
  try {
    for (const cidr of options.addresses ?? []) await ip(['address', 'add', cidr, 'dev', actualName]);
    for (const prefix of options.routes ?? []) await ip(['route', 'add', prefix, 'dev', actualName]);
  } catch (error) {
    await device.close();
    throw error;
  }
  return device;
}
