/*
 * ipsec_es_tun: a Linux TUN device for Node, with nothing but N-API and libuv.
 *
 * open(path, name, mtu, up)           -> [device, ifname, mtu]
 * start(device, slab, slotBytes, lengths, maxBatch, onWake(count, errno))
 * stop(device)
 * write(device, packets, errnos)      -> packets written (errnos: in -1 = skip, out 0 | errno)
 * gsoStats(device)                     -> [gsoWrites, gsoPackets, vnetHdr 0 | 1]
 * close(device, onClosed(errno))
 *
 * The fd is non-blocking and watched with uv_poll (epoll, level-triggered): one wake-up reads
 * up to maxBatch packets into slot i of the caller's slab (lengths[i] = what read(2) returned),
 * then yields to the loop. Idle, nothing runs. Errors are thrown as JS errors carrying `errno`
 * and `syscall`; adapters/tun/linuxTun.ts turns them into messages that say what is needed.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/uio.h>
#include <uv.h>
#include "coalesce.h"

#define VNET_HDR 10 /* sizeof(struct virtio_net_hdr): the TUNSETVNETHDRSZ default */

typedef struct {
  napi_env env;
  int fd;
  uv_poll_t poll;
  int polling, closing, handle_closed, finalized;
  int no_js; /* environment teardown or GC: no JS to call, the env frees references itself */
  uint8_t *slab;
  int32_t *lengths;
  size_t slot;
  uint32_t max_batch;
  napi_ref on_wake, slab_ref, lengths_ref, on_closed;
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  int vnet;    /* IFF_VNET_HDR: every read and write carries a virtio_net_hdr first */
  int gso_ok;  /* GSO writes accepted so far */
  coalesce_stats_t gso;
} tun_t;

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

/* Throws Error(`${op}: ${strerror}`) with .errno and .syscall; returns NULL for the caller. */
static napi_value throw_errno(napi_env env, const char *op, int err) {
  napi_value msg, error, num, sys;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", op, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
  return NULL;
}

static tun_t *device_arg(napi_env env, napi_value v) {
  tun_t *t = NULL;
  if (napi_get_value_external(env, v, (void **)&t) != napi_ok || t == NULL) {
    napi_throw_type_error(env, NULL, "device: not a TUN device handle");
    return NULL;
  }
  if (t->closing) { napi_throw_error(env, "ERR_TUN_CLOSED", "device: closed"); return NULL; }
  return t;
}

static void drop_ref(napi_env env, napi_ref *ref) {
  if (*ref) { napi_delete_reference(env, *ref); *ref = NULL; }
}

static void stop_polling(tun_t *t) {
  if (t->polling) { uv_poll_stop(&t->poll); t->polling = 0; }
  if (t->no_js) return;
  drop_ref(t->env, &t->on_wake); drop_ref(t->env, &t->slab_ref); drop_ref(t->env, &t->lengths_ref);
}

/* Calls a JS function from a libuv callback; an exception becomes an uncaught exception. */
static void call_js(tun_t *t, napi_ref fn_ref, size_t argc, const int32_t *args) {
  napi_env env = t->env;
  napi_handle_scope scope;
  napi_value fn, recv, argv[2], exc;
  bool pending = false;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_get_reference_value(env, fn_ref, &fn);
  napi_get_global(env, &recv); /* make_callback wants an object receiver */
  for (size_t i = 0; i < argc; i++) napi_create_int32(env, args[i], &argv[i]);
  /* make_callback (not call_function): runs nextTicks and microtasks afterwards, as for I/O. */
  napi_make_callback(env, t->actx, recv, fn, argc, argv, NULL);
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &exc) == napi_ok)
    napi_fatal_exception(env, exc);
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  tun_t *t = h->data;
  uint32_t n = 0;
  int err = status < 0 ? -status : 0;
  (void)events;
  while (!err && n < t->max_batch) {
    /* A packet longer than the slot is cut, but read(2) still returns its full length
     * (tun_put_user returns the skb length), so lengths[i] > slot marks a truncated read. */
    ssize_t r;
    if (t->vnet) {
      /* The header first (no offloads are enabled, so it asks for nothing), the packet into the slot. */
      uint8_t hdr[VNET_HDR];
      struct iovec iov[2] = {{hdr, sizeof hdr}, {t->slab + (size_t)n * t->slot, t->slot}};
      r = readv(t->fd, iov, 2);
      if (r >= 0) r = r < VNET_HDR ? 0 : r - VNET_HDR;
    } else {
      r = read(t->fd, t->slab + (size_t)n * t->slot, t->slot);
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    t->lengths[n++] = (int32_t)r;
  }
  if (n == 0 && !err) return;
  int32_t args[2] = {(int32_t)n, err};
  napi_ref fn = t->on_wake; /* JS may stop or close the device inside the call */
  if (err) { t->polling = 0; uv_poll_stop(h); }
  if (fn) call_js(t, fn, 2, args);
  if (err && !t->closing && !t->polling) stop_polling(t);
}

static void on_handle_closed(uv_handle_t *h) {
  tun_t *t = h->data;
  int err = 0;
  if (close(t->fd) < 0) err = errno;
  t->handle_closed = 1;
  if (!t->no_js) {
    int32_t args[1] = {err};
    if (t->on_closed) call_js(t, t->on_closed, 1, args);
    drop_ref(t->env, &t->on_closed);
    napi_async_destroy(t->env, t->actx);
  }
  if (t->cleanup) { napi_remove_async_cleanup_hook(t->cleanup); t->cleanup = NULL; }
  if (t->finalized) free(t);
}

static void begin_close(tun_t *t) {
  if (t->closing) return;
  stop_polling(t);
  t->closing = 1;
  uv_close((uv_handle_t *)&t->poll, on_handle_closed);
}

/* Environment teardown (process exit, worker termination): close before the loop goes. */
static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *data) {
  tun_t *t = data;
  (void)handle;
  t->no_js = 1;
  begin_close(t);
}

static void finalize(napi_env env, void *data, void *hint) {
  tun_t *t = data;
  (void)hint;
  t->finalized = 1;
  if (!t->no_js && !t->handle_closed) napi_async_destroy(env, t->actx);
  if (t->handle_closed) free(t);
  else { t->no_js = 1; begin_close(t); } /* dropped unclosed: no JS left to tell */
}

static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result, ext, v;
  char path[256], name[IFNAMSIZ];
  int32_t mtu;
  bool up;
  uv_loop_t *loop;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, NULL));
  CHECK(napi_get_value_string_utf8(env, argv[1], name, sizeof name, NULL));
  CHECK(napi_get_value_int32(env, argv[2], &mtu));
  CHECK(napi_get_value_bool(env, argv[3], &up));
  CHECK(napi_get_uv_event_loop(env, &loop));

  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", errno);
  /* Documentation/networking/tuntap.rst, "3.2 Frame format" and "Universal TUN/TAP device
   * driver Frequently Asked Question": TUNSETIFF on an fd of /dev/net/tun creates (or attaches
   * to) the interface named in ifr_name; IFF_TUN = layer-3 packets, IFF_NO_PI = no 4-byte
   * packet-information header, so each read(2)/write(2) is exactly one IP packet. An empty
   * name lets the kernel pick tun%d. Needs CAP_NET_ADMIN. */
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  /* IFF_VNET_HDR (tuntap.rst; include/uapi/linux/virtio_net.h): a virtio_net_hdr before each
   * packet, so that a write can be a GSO packet (native/tun/coalesce.c). No TUNSETOFFLOAD:
   * what we read stays whole, checksummed packets. IPSEC_ES_TUN_GSO=0 leaves it off. */
  const char *g = getenv("IPSEC_ES_TUN_GSO");
  int vnet = !(g && strcmp(g, "0") == 0);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    if (vnet) {
      /* A persistent interface that exists without it (EINVAL): attach to it as it is. */
      vnet = 0;
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      e = ioctl(fd, TUNSETIFF, &ifr) < 0 ? errno : 0;
    }
    if (e) { close(fd); return throw_errno(env, "ioctl(TUNSETIFF)", e); }
  }
  if (vnet) {
    int size = VNET_HDR;
    if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) { int e = errno; close(fd); return throw_errno(env, "ioctl(TUNSETVNETHDRSZ)", e); }
    /* No offloads towards us: every packet we read is whole and fully checksummed. */
    if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) { int e = errno; close(fd); return throw_errno(env, "ioctl(TUNSETOFFLOAD)", e); }
  }

  /* MTU and IFF_UP are interface ioctls (netdevice(7)) on any socket of this namespace. */
  const char *op = "socket";
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) goto fail;
  op = "ioctl(SIOCSIFMTU)";
  if (mtu > 0 && (ifr.ifr_mtu = mtu, ioctl(s, SIOCSIFMTU, &ifr) < 0)) goto fail;
  op = "ioctl(SIOCGIFMTU)";
  if (ioctl(s, SIOCGIFMTU, &ifr) < 0) goto fail;
  mtu = ifr.ifr_mtu;
  if (up) {
    op = "ioctl(SIOCGIFFLAGS)";
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) goto fail;
    ifr.ifr_flags |= IFF_UP;
    op = "ioctl(SIOCSIFFLAGS)";
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) goto fail;
  }
  close(s);

  tun_t *t = calloc(1, sizeof *t);
  if (t == NULL) { close(fd); return throw_errno(env, "calloc", ENOMEM); }
  t->env = env;
  t->fd = fd;
  t->vnet = vnet;
  t->gso_ok = vnet;
  t->poll.data = t;
  int rc = uv_poll_init(loop, &t->poll, fd); /* initialised now, started by start() */
  if (rc < 0) { close(fd); free(t); return throw_errno(env, "uv_poll_init", -rc); }
  CHECK(napi_create_string_utf8(env, "ipsec-es:tun", NAPI_AUTO_LENGTH, &v));
  CHECK(napi_async_init(env, NULL, v, &t->actx));
  if (napi_add_async_cleanup_hook(env, on_env_teardown, t, &t->cleanup) != napi_ok) t->cleanup = NULL;
  CHECK(napi_create_external(env, t, finalize, NULL, &ext));
  CHECK(napi_create_array_with_length(env, 3, &result));
  CHECK(napi_set_element(env, result, 0, ext));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_element(env, result, 1, v));
  CHECK(napi_create_int32(env, mtu, &v));
  CHECK(napi_set_element(env, result, 2, v));
  return result;
fail: {
    int e = errno;
    if (s >= 0) close(s);
    close(fd);
    return throw_errno(env, op, e);
  }
}

static napi_value tun_start(napi_env env, napi_callback_info info) {
  size_t argc = 6, len;
  napi_value argv[6];
  napi_typedarray_type type;
  void *data;
  uint32_t slot;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = device_arg(env, argv[0]);
  if (t == NULL) return NULL;
  stop_polling(t);
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[2], &slot));
  CHECK(napi_get_value_uint32(env, argv[4], &t->max_batch));
  if (type != napi_uint8_array || slot == 0 || (size_t)slot * t->max_batch > len) {
    napi_throw_range_error(env, NULL, "slab: must be a Uint8Array of maxBatch * slotBytes");
    return NULL;
  }
  t->slab = data;
  t->slot = slot;
  CHECK(napi_get_typedarray_info(env, argv[3], &type, &len, &data, NULL, NULL));
  if (type != napi_int32_array || len < t->max_batch) {
    napi_throw_range_error(env, NULL, "lengths: must be an Int32Array of maxBatch");
    return NULL;
  }
  t->lengths = data;
  CHECK(napi_create_reference(env, argv[1], 1, &t->slab_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &t->lengths_ref));
  CHECK(napi_create_reference(env, argv[5], 1, &t->on_wake));
  int rc = uv_poll_start(&t->poll, UV_READABLE, on_readable);
  if (rc < 0) { stop_polling(t); return throw_errno(env, "uv_poll_start", -rc); }
  t->polling = 1;
  return NULL;
}

static napi_value tun_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = device_arg(env, argv[0]);
  if (t != NULL) stop_polling(t);
  return NULL;
}

/* One N-API call per batch; with IFF_VNET_HDR, runs that re-segment exactly go as one GSO
 * write (coalesce.c), the rest one write(2) each (tuntap.rst: each write is one packet). */
#define WRITE_CHUNK 256
static napi_value tun_write(napi_env env, napi_callback_info info) {
  size_t argc = 3, len;
  napi_value argv[3], packet, out;
  napi_typedarray_type type;
  uint32_t count, written = 0;
  int32_t *errnos;
  void *data;
  const uint8_t *pkts[WRITE_CHUNK];
  size_t lens[WRITE_CHUNK];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = device_arg(env, argv[0]);
  if (t == NULL) return NULL;
  CHECK(napi_get_array_length(env, argv[1], &count));
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &len, (void **)&errnos, NULL, NULL));
  if (type != napi_int32_array || len < count) {
    napi_throw_range_error(env, NULL, "errnos: must be an Int32Array of packets.length");
    return NULL;
  }
  for (uint32_t base = 0; base < count; base += WRITE_CHUNK) {
    uint32_t n = count - base < WRITE_CHUNK ? count - base : WRITE_CHUNK;
    for (uint32_t i = 0; i < n; i++) {
      pkts[i] = NULL;
      lens[i] = 0;
      if (errnos[base + i] != 0) continue; /* refused by the caller's check */
      CHECK(napi_get_element(env, argv[1], base + i, &packet));
      CHECK(napi_get_typedarray_info(env, packet, &type, &len, &data, NULL, NULL));
      pkts[i] = data;
      lens[i] = len;
    }
    if (t->vnet) {
      written += coalesce_write(t->fd, pkts, lens, errnos + base, n, &t->gso_ok, &t->gso);
      continue;
    }
    for (uint32_t i = 0; i < n; i++) {
      if (errnos[base + i] != 0) continue;
      ssize_t r;
      do r = write(t->fd, pkts[i], lens[i]); while (r < 0 && errno == EINTR);
      if (r < 0) errnos[base + i] = errno;
      else if ((size_t)r != lens[i]) errnos[base + i] = EIO;
      else written++;
    }
  }
  CHECK(napi_create_uint32(env, written, &out));
  return out;
}

static napi_value tun_gso_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = device_arg(env, argv[0]);
  if (t == NULL) return NULL;
  CHECK(napi_create_array_with_length(env, 3, &out));
  CHECK(napi_create_double(env, t->gso.gsoWrites, &v));
  CHECK(napi_set_element(env, out, 0, v));
  CHECK(napi_create_double(env, t->gso.gsoPackets, &v));
  CHECK(napi_set_element(env, out, 1, v));
  CHECK(napi_create_int32(env, t->vnet, &v));
  CHECK(napi_set_element(env, out, 2, v));
  return out;
}

static napi_value tun_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = device_arg(env, argv[0]);
  if (t == NULL) return NULL;
  CHECK(napi_create_reference(env, argv[1], 1, &t->on_closed));
  begin_close(t);
  return NULL;
}

/* native/tun/udp.c: the batched UDP socket (exports.udp), built into the same addon. */
napi_value ipsec_es_udp_init(napi_env env, napi_value exports);
/* native/tun/raw.c: the raw ESP socket, IP protocol 50 (exports.raw), built into the same addon. */
napi_value ipsec_es_raw_init(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, tun_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, tun_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stop", NULL, tun_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, tun_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gsoStats", NULL, tun_gso_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, tun_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  if (ipsec_es_udp_init(env, exports) == NULL) return NULL;
  return ipsec_es_raw_init(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
