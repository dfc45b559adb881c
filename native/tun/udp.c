/*
 * ipsec_es_tun's UDP half: an unconnected UDP socket with batched syscalls, for
 * adapters/udp/nativeUdpBind.ts. Registered by tun.c's module init as `exports.udp`.
 *
 * open(family, address, port, v6only, rcvbuf, sndbuf) -> [socket, localPort, rcvActual, sndActual]
 *     family 4 | 6; rcvbuf / sndbuf 0 = leave the kernel's default.
 * start(socket, maxBatch, meta, onWake(count, errno, arrayBuffer | undefined))
 *     one recvmmsg(2) of up to maxBatch datagrams per uv_poll wake-up; datagram i is
 *     meta[8i..8i+7] = [length, port, family, msg_flags, address words 0..3] and its bytes follow
 *     datagram i-1's in `arrayBuffer`, a fresh ArrayBuffer per batch (the receiver owns it).
 * send(socket, datas, addresses, ports, count, errnos) -> datagrams the kernel accepted
 *     sendmmsg(2) over the batch; errnos[i] in: non-zero = skip, out: 0 | errno.
 * addressText(meta, slot) -> the IP literal of slot `slot` (inet_ntop).
 * drops(socket) -> datagrams the kernel dropped on this socket (SO_MEMINFO, SK_MEMINFO_DROPS).
 * close(socket, onClosed(errno))
 *
 * Runs of datagrams to one destination with one size (the last of a run may be shorter) go as
 * one UDP GSO message (UDP_SEGMENT, Linux >= 4.18): the stack is walked once per run, not per
 * datagram, and the datagrams on the wire are the same. A kernel or device that refuses it
 * (EIO, EINVAL, ENOPROTOOPT) turns it off for the socket and the run goes datagram by
 * datagram; IPSEC_ES_UDP_GSO=0 turns it off from the start.
 *
 * EAGAIN on send (the send buffer is full) is not retried: the datagram and the rest of that
 * send() call get errno EAGAIN, which the JS side counts as send errors. UDP may lose datagrams
 * anyway; a writable-wait queue would add latency and unbounded memory to the gateway's hot path.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define UDP_MAX_BATCH 1024
#define UDP_SLOT 65536 /* the largest UDP payload (65527 over IPv6 without jumbograms) fits */
#define UDP_SEND_CHUNK 256
#define META_INTS 8
/* UDP GSO: at most this many segments per message (the kernel's UDP_MAX_SEGMENTS is 64 on
 * older kernels, 128 on newer) and this many payload octets (under IPv4's 65507). */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000

typedef struct {
  napi_env env;
  int fd, family;
  uv_poll_t poll;
  int polling, closing, handle_closed, finalized, no_js;
  uint32_t max_batch;
  uint8_t *slab;                 /* max_batch * UDP_SLOT, malloc'd: pages are touched only as used */
  struct mmsghdr *rmsgs;
  struct iovec *riov;
  struct sockaddr_in6 *raddr;    /* big enough for sockaddr_in too */
  int32_t *meta;
  napi_ref on_wake, meta_ref, on_closed;
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  /* send scratch, one chunk */
  struct mmsghdr smsgs[UDP_SEND_CHUNK];
  struct iovec siov[UDP_SEND_CHUNK];
  struct sockaddr_in6 saddr[UDP_SEND_CHUNK];
  uint32_t sidx[UDP_SEND_CHUNK];
  socklen_t salen[UDP_SEND_CHUNK];
  /* the same chunk grouped into GSO runs: message g covers datagrams gfirst[g] .. + gcount[g] */
  struct mmsghdr gmsgs[UDP_SEND_CHUNK];
  uint32_t gfirst[UDP_SEND_CHUNK], gcount[UDP_SEND_CHUNK];
  char gctl[UDP_SEND_CHUNK][CMSG_SPACE(sizeof(uint16_t))];
  int gso; /* 1 while UDP GSO works on this socket */
} udp_t;

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static napi_value udp_throw_errno(napi_env env, const char *op, int err) {
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

static udp_t *socket_arg(napi_env env, napi_value v) {
  udp_t *u = NULL;
  if (napi_get_value_external(env, v, (void **)&u) != napi_ok || u == NULL || u->family == 0) {
    napi_throw_type_error(env, NULL, "socket: not a UDP socket handle");
    return NULL;
  }
  if (u->closing) { napi_throw_error(env, "ERR_UDP_CLOSED", "socket: closed"); return NULL; }
  return u;
}

static void udp_drop_ref(napi_env env, napi_ref *ref) {
  if (*ref) { napi_delete_reference(env, *ref); *ref = NULL; }
}

static void free_rx(udp_t *u) {
  free(u->slab); free(u->rmsgs); free(u->riov); free(u->raddr);
  u->slab = NULL; u->rmsgs = NULL; u->riov = NULL; u->raddr = NULL;
}

static void udp_stop_polling(udp_t *u) {
  if (u->polling) { uv_poll_stop(&u->poll); u->polling = 0; }
  if (u->no_js) return;
  udp_drop_ref(u->env, &u->on_wake); udp_drop_ref(u->env, &u->meta_ref);
  u->meta = NULL;
}

/* The peer of rmsgs[i] into meta: IPv4-mapped IPv6 (RFC 4291 §2.5.5.2) is reported as IPv4. */
static void put_peer(int32_t *m, const struct sockaddr_in6 *sa) {
  memset(m + 4, 0, 16);
  if (sa->sin6_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    m[1] = ntohs(s4->sin_port); m[2] = 4;
    memcpy(m + 4, &s4->sin_addr, 4);
  } else if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr)) {
    m[1] = ntohs(sa->sin6_port); m[2] = 4;
    memcpy(m + 4, sa->sin6_addr.s6_addr + 12, 4);
  } else {
    m[1] = ntohs(sa->sin6_port); m[2] = 6;
    memcpy(m + 4, &sa->sin6_addr, 16);
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  udp_t *u = h->data;
  int err = status < 0 ? -status : 0, n = 0;
  (void)events;
  if (!err) {
    for (uint32_t i = 0; i < u->max_batch; i++) {
      u->rmsgs[i].msg_hdr.msg_namelen = sizeof u->raddr[i];
      u->rmsgs[i].msg_hdr.msg_flags = 0;
      u->rmsgs[i].msg_len = 0;
    }
    /* recvmmsg(2): up to vlen datagrams in one call; MSG_DONTWAIT, the fd is watched by uv_poll.
     * Returns how many were received, or -1 with errno (EAGAIN: nothing waiting). A pending
     * socket error (sk_err) is returned, and cleared, by this call. */
    do n = recvmmsg(u->fd, u->rmsgs, u->max_batch, MSG_DONTWAIT, NULL); while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      n = 0;
    }
  }
  if (n == 0 && !err) return;
  if (u->no_js || u->on_wake == NULL || u->meta == NULL) return;

  napi_env env = u->env;
  napi_handle_scope scope;
  napi_value fn, recv, argv[3], exc;
  void *data = NULL;
  bool pending = false;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += u->rmsgs[i].msg_len;
  if (n > 0) {
    if (napi_create_arraybuffer(env, total, &data, &argv[2]) != napi_ok) { napi_close_handle_scope(env, scope); return; }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
      int32_t *m = u->meta + (size_t)i * META_INTS;
      size_t len = u->rmsgs[i].msg_len;
      if (len) memcpy((uint8_t *)data + off, u->riov[i].iov_base, len);
      off += len;
      m[0] = (int32_t)len;
      m[3] = u->rmsgs[i].msg_hdr.msg_flags;
      put_peer(m, &u->raddr[i]);
    }
  } else {
    napi_get_undefined(env, &argv[2]);
  }
  napi_create_int32(env, n, &argv[0]);
  napi_create_int32(env, err, &argv[1]);
  napi_get_reference_value(env, u->on_wake, &fn);
  napi_get_global(env, &recv);
  /* make_callback: nextTicks and microtasks run afterwards, as after any I/O callback. */
  napi_make_callback(env, u->actx, recv, fn, 3, argv, NULL);
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &exc) == napi_ok)
    napi_fatal_exception(env, exc);
  napi_close_handle_scope(env, scope);
}

static void on_handle_closed(uv_handle_t *h) {
  udp_t *u = h->data;
  int err = 0;
  if (close(u->fd) < 0) err = errno;
  u->handle_closed = 1;
  free_rx(u);
  if (!u->no_js) {
    if (u->on_closed) {
      napi_handle_scope scope;
      napi_value fn, recv, arg, exc;
      bool pending = false;
      if (napi_open_handle_scope(u->env, &scope) == napi_ok) {
        napi_get_reference_value(u->env, u->on_closed, &fn);
        napi_get_global(u->env, &recv);
        napi_create_int32(u->env, err, &arg);
        napi_make_callback(u->env, u->actx, recv, fn, 1, &arg, NULL);
        if (napi_is_exception_pending(u->env, &pending) == napi_ok && pending &&
            napi_get_and_clear_last_exception(u->env, &exc) == napi_ok)
          napi_fatal_exception(u->env, exc);
        napi_close_handle_scope(u->env, scope);
      }
    }
    udp_drop_ref(u->env, &u->on_closed);
    napi_async_destroy(u->env, u->actx);
  }
  if (u->cleanup) { napi_remove_async_cleanup_hook(u->cleanup); u->cleanup = NULL; }
  if (u->finalized) free(u);
}

static void udp_begin_close(udp_t *u) {
  if (u->closing) return;
  udp_stop_polling(u);
  u->closing = 1;
  uv_close((uv_handle_t *)&u->poll, on_handle_closed);
}

static void udp_on_env_teardown(napi_async_cleanup_hook_handle handle, void *data) {
  udp_t *u = data;
  (void)handle;
  u->no_js = 1;
  udp_begin_close(u);
}

static void udp_finalize(napi_env env, void *data, void *hint) {
  udp_t *u = data;
  (void)hint;
  u->finalized = 1;
  if (!u->no_js && !u->handle_closed) napi_async_destroy(env, u->actx);
  if (u->handle_closed) free(u);
  else { u->no_js = 1; udp_begin_close(u); }
}

static int buffer_size(int fd, int opt, int32_t want, int32_t *actual) {
  socklen_t len = sizeof *actual;
  /* socket(7): SO_RCVBUF / SO_SNDBUF; the kernel doubles the value and caps it at
   * net.core.rmem_max / wmem_max first; getsockopt reports what it granted. */
  if (want > 0 && setsockopt(fd, SOL_SOCKET, opt, &want, sizeof want) < 0) return -1;
  return getsockopt(fd, SOL_SOCKET, opt, actual, &len);
}

static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], result, ext, v;
  int32_t family, port, rcv, snd, rcv_actual = 0, snd_actual = 0;
  bool v6only;
  char text[INET6_ADDRSTRLEN + 1];
  uv_loop_t *loop;
  struct sockaddr_in6 sa;
  socklen_t salen;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &family));
  CHECK(napi_get_value_string_utf8(env, argv[1], text, sizeof text, NULL));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_bool(env, argv[3], &v6only));
  CHECK(napi_get_value_int32(env, argv[4], &rcv));
  CHECK(napi_get_value_int32(env, argv[5], &snd));
  CHECK(napi_get_uv_event_loop(env, &loop));
  memset(&sa, 0, sizeof sa);
  if (family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return udp_throw_errno(env, "inet_pton", EINVAL);
    salen = sizeof *s4;
  } else if (family == 6) {
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, text, &sa.sin6_addr) != 1) return udp_throw_errno(env, "inet_pton", EINVAL);
    salen = sizeof sa;
  } else {
    napi_throw_range_error(env, NULL, "family: must be 4 or 6");
    return NULL;
  }

  const char *op = "socket";
  int one = v6only ? 1 : 0;
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return udp_throw_errno(env, op, errno);
  op = "setsockopt(IPV6_V6ONLY)"; /* ipv6(7) */
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) goto fail;
  op = "setsockopt(SO_RCVBUF)";
  if (buffer_size(fd, SO_RCVBUF, rcv, &rcv_actual) < 0) goto fail;
  op = "setsockopt(SO_SNDBUF)";
  if (buffer_size(fd, SO_SNDBUF, snd, &snd_actual) < 0) goto fail;
  op = "bind";
  if (bind(fd, (struct sockaddr *)&sa, salen) < 0) goto fail;
  op = "getsockname";
  salen = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) goto fail;

  udp_t *u = calloc(1, sizeof *u);
  if (u == NULL) { close(fd); return udp_throw_errno(env, "calloc", ENOMEM); }
  u->env = env;
  u->fd = fd;
  { const char *g = getenv("IPSEC_ES_UDP_GSO"); u->gso = !(g && strcmp(g, "0") == 0); }
  u->family = family;
  u->poll.data = u;
  int rc = uv_poll_init(loop, &u->poll, fd);
  if (rc < 0) { close(fd); free(u); return udp_throw_errno(env, "uv_poll_init", -rc); }
  CHECK(napi_create_string_utf8(env, "ipsec-es:udp", NAPI_AUTO_LENGTH, &v));
  CHECK(napi_async_init(env, NULL, v, &u->actx));
  if (napi_add_async_cleanup_hook(env, udp_on_env_teardown, u, &u->cleanup) != napi_ok) u->cleanup = NULL;
  CHECK(napi_create_external(env, u, udp_finalize, NULL, &ext));
  CHECK(napi_create_array_with_length(env, 4, &result));
  CHECK(napi_set_element(env, result, 0, ext));
  CHECK(napi_create_int32(env, ntohs(sa.sin6_port), &v)); /* sin_port sits at the same offset */
  CHECK(napi_set_element(env, result, 1, v));
  CHECK(napi_create_int32(env, rcv_actual, &v));
  CHECK(napi_set_element(env, result, 2, v));
  CHECK(napi_create_int32(env, snd_actual, &v));
  CHECK(napi_set_element(env, result, 3, v));
  return result;
fail: {
    int e = errno;
    close(fd);
    return udp_throw_errno(env, op, e);
  }
}

static napi_value udp_start(napi_env env, napi_callback_info info) {
  size_t argc = 4, len;
  napi_value argv[4];
  napi_typedarray_type type;
  void *data;
  uint32_t max_batch;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = socket_arg(env, argv[0]);
  if (u == NULL) return NULL;
  CHECK(napi_get_value_uint32(env, argv[1], &max_batch));
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &len, &data, NULL, NULL));
  if (max_batch < 1 || max_batch > UDP_MAX_BATCH) {
    napi_throw_range_error(env, NULL, "maxBatch: must be in [1, 1024]");
    return NULL;
  }
  if (type != napi_int32_array || len < (size_t)max_batch * META_INTS) {
    napi_throw_range_error(env, NULL, "meta: must be an Int32Array of 8 * maxBatch");
    return NULL;
  }
  udp_stop_polling(u);
  free_rx(u);
  u->max_batch = max_batch;
  u->slab = malloc((size_t)max_batch * UDP_SLOT);
  u->rmsgs = calloc(max_batch, sizeof *u->rmsgs);
  u->riov = calloc(max_batch, sizeof *u->riov);
  u->raddr = calloc(max_batch, sizeof *u->raddr);
  if (!u->slab || !u->rmsgs || !u->riov || !u->raddr) { free_rx(u); return udp_throw_errno(env, "malloc", ENOMEM); }
  for (uint32_t i = 0; i < max_batch; i++) {
    u->riov[i].iov_base = u->slab + (size_t)i * UDP_SLOT;
    u->riov[i].iov_len = UDP_SLOT;
    u->rmsgs[i].msg_hdr.msg_iov = &u->riov[i];
    u->rmsgs[i].msg_hdr.msg_iovlen = 1;
    u->rmsgs[i].msg_hdr.msg_name = &u->raddr[i];
  }
  u->meta = data;
  CHECK(napi_create_reference(env, argv[2], 1, &u->meta_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &u->on_wake));
  int rc = uv_poll_start(&u->poll, UV_READABLE, on_readable);
  if (rc < 0) { udp_stop_polling(u); return udp_throw_errno(env, "uv_poll_start", -rc); }
  u->polling = 1;
  return NULL;
}

/* Destination i into saddr[k]; 0 or an errno (EINVAL: not an address this socket can reach). */
static int destination(udp_t *u, const char *text, int32_t port, struct sockaddr_in6 *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  if (u->family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return EINVAL;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
    return 0;
  }
  out->sin6_family = AF_INET6;
  out->sin6_port = htons((uint16_t)port);
  *len = sizeof *out;
  if (inet_pton(AF_INET6, text, &out->sin6_addr) == 1) return 0;
  struct in_addr a4;
  if (inet_pton(AF_INET, text, &a4) != 1) return EINVAL;
  /* A dual-stack socket reaches IPv4 peers as IPv4-mapped IPv6; a v6-only one fails with
   * ENETUNREACH at sendmmsg, which is the right answer. */
  out->sin6_addr.s6_addr[10] = 0xff;
  out->sin6_addr.s6_addr[11] = 0xff;
  memcpy(out->sin6_addr.s6_addr + 12, &a4, 4);
  return 0;
}

static napi_value udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 6, len;
  napi_value argv[6], item, out;
  napi_typedarray_type type;
  uint32_t count, datas_len, sent = 0;
  int32_t *ports, *errnos;
  void *data;
  char text[INET6_ADDRSTRLEN + 1];
  size_t text_len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = socket_arg(env, argv[0]);
  if (u == NULL) return NULL;
  CHECK(napi_get_value_uint32(env, argv[4], &count));
  CHECK(napi_get_array_length(env, argv[1], &datas_len));
  CHECK(napi_get_typedarray_info(env, argv[3], &type, &len, (void **)&ports, NULL, NULL));
  if (type != napi_int32_array || len < count || datas_len < count) {
    napi_throw_range_error(env, NULL, "ports: must be an Int32Array of count");
    return NULL;
  }
  CHECK(napi_get_typedarray_info(env, argv[5], &type, &len, (void **)&errnos, NULL, NULL));
  if (type != napi_int32_array || len < count) {
    napi_throw_range_error(env, NULL, "errnos: must be an Int32Array of count");
    return NULL;
  }
  uint32_t i = 0;
  int again = 0;
  while (i < count) {
    uint32_t k = 0;
    for (; i < count && k < UDP_SEND_CHUNK; i++) {
      if (errnos[i] != 0) continue; /* refused by the caller's check */
      if (again) { errnos[i] = EAGAIN; continue; }
      CHECK(napi_get_element(env, argv[1], i, &item));
      if (napi_get_typedarray_info(env, item, &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
        bool ignored; napi_is_exception_pending(env, &ignored);
        if (ignored) { napi_value e; napi_get_and_clear_last_exception(env, &e); }
        errnos[i] = EINVAL;
        continue;
      }
      CHECK(napi_get_element(env, argv[2], i, &item));
      if (napi_get_value_string_utf8(env, item, text, sizeof text, &text_len) != napi_ok || text_len >= sizeof text - 1) {
        bool ignored; napi_is_exception_pending(env, &ignored);
        if (ignored) { napi_value e; napi_get_and_clear_last_exception(env, &e); }
        errnos[i] = EINVAL;
        continue;
      }
      socklen_t salen;
      int e = destination(u, text, ports[i], &u->saddr[k], &salen);
      if (e) { errnos[i] = e; continue; }
      u->siov[k].iov_base = data;
      u->siov[k].iov_len = len;
      memset(&u->smsgs[k], 0, sizeof u->smsgs[k]);
      u->smsgs[k].msg_hdr.msg_name = &u->saddr[k];
      u->smsgs[k].msg_hdr.msg_namelen = salen;
      u->salen[k] = salen;
      u->smsgs[k].msg_hdr.msg_iov = &u->siov[k];
      u->smsgs[k].msg_hdr.msg_iovlen = 1;
      u->sidx[k] = i;
      k++;
    }
    /* Group the chunk into GSO runs (one message each), or one message per datagram. */
    uint32_t groups = 0;
    for (uint32_t j = 0; j < k;) {
      uint32_t n = 1;
      size_t seg = u->siov[j].iov_len, total = seg;
      if (u->gso && seg > 0) {
        while (j + n < k && n < GSO_MAX_SEGMENTS && u->salen[j + n] == u->salen[j] &&
               memcmp(&u->saddr[j + n], &u->saddr[j], u->salen[j]) == 0 &&
               u->siov[j + n].iov_len <= seg && u->siov[j + n].iov_len > 0 && total + u->siov[j + n].iov_len <= GSO_MAX_BYTES) {
          total += u->siov[j + n].iov_len;
          n++;
          if (u->siov[j + n - 1].iov_len < seg) break; /* a shorter one ends the run */
        }
      }
      struct msghdr *m = &u->gmsgs[groups].msg_hdr;
      memset(&u->gmsgs[groups], 0, sizeof u->gmsgs[groups]);
      m->msg_name = &u->saddr[j];
      m->msg_namelen = u->salen[j];
      m->msg_iov = &u->siov[j];
      m->msg_iovlen = n;
      if (n > 1) {
        /* udp(7) UDP_SEGMENT: the payload is cut into datagrams of `seg` octets. */
        m->msg_control = u->gctl[groups];
        m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        struct cmsghdr *c = CMSG_FIRSTHDR(m);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t s16 = (uint16_t)seg;
        memcpy(CMSG_DATA(c), &s16, sizeof s16);
      }
      u->gfirst[groups] = j;
      u->gcount[groups] = n;
      groups++;
      j += n;
    }
    uint32_t off = 0;
    while (off < groups && !again) {
      /* sendmmsg(2): sends vlen messages in one call, returns how many went; an error is
       * returned (-1, errno) only when the first message fails, so that one gets the errno and
       * the call goes on from the next. */
      int r = sendmmsg(u->fd, u->gmsgs + off, groups - off, MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        uint32_t first = u->gfirst[off], n = u->gcount[off];
        if (n > 1 && (e == EIO || e == EINVAL || e == ENOPROTOOPT || e == EOPNOTSUPP)) {
          /* No GSO here (a device without checksum offload, an old kernel): off for good, and
           * this run goes again one datagram per message. */
          u->gso = 0;
          for (uint32_t d = 0; d < n; d++) {
            if (again) { errnos[u->sidx[first + d]] = EAGAIN; continue; }
            struct mmsghdr one;
            memset(&one, 0, sizeof one);
            one.msg_hdr.msg_name = &u->saddr[first + d];
            one.msg_hdr.msg_namelen = u->salen[first + d];
            one.msg_hdr.msg_iov = &u->siov[first + d];
            one.msg_hdr.msg_iovlen = 1;
            int r1;
            do r1 = sendmmsg(u->fd, &one, 1, MSG_DONTWAIT); while (r1 < 0 && errno == EINTR);
            if (r1 == 1) { sent++; continue; }
            int e1 = errno;
            if (e1 == EAGAIN || e1 == EWOULDBLOCK) { e1 = EAGAIN; again = 1; }
            errnos[u->sidx[first + d]] = e1;
          }
          off++;
          continue;
        }
        if (e == EAGAIN || e == EWOULDBLOCK) { e = EAGAIN; again = 1; }
        for (uint32_t d = 0; d < n; d++) errnos[u->sidx[first + d]] = e;
        off++;
        continue;
      }
      for (int g = 0; g < r; g++) sent += u->gcount[off + (uint32_t)g];
      off += (uint32_t)r;
    }
    /* the send buffer is full: the rest is dropped */
    for (; off < groups; off++) for (uint32_t d = 0; d < u->gcount[off]; d++) errnos[u->sidx[u->gfirst[off] + d]] = EAGAIN;
  }
  CHECK(napi_create_uint32(env, sent, &out));
  return out;
}

static napi_value udp_address_text(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value argv[2], out;
  napi_typedarray_type type;
  int32_t *meta;
  uint32_t slot;
  char text[INET6_ADDRSTRLEN];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &len, (void **)&meta, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[1], &slot));
  if (type != napi_int32_array || ((size_t)slot + 1) * META_INTS > len) {
    napi_throw_range_error(env, NULL, "slot: outside meta");
    return NULL;
  }
  int32_t *m = meta + (size_t)slot * META_INTS;
  if (inet_ntop(m[2] == 4 ? AF_INET : AF_INET6, m + 4, text, sizeof text) == NULL) return udp_throw_errno(env, "inet_ntop", errno);
  CHECK(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value udp_drops(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  uint32_t mem[SK_MEMINFO_VARS];
  socklen_t len = sizeof mem;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = socket_arg(env, argv[0]);
  if (u == NULL) return NULL;
  memset(mem, 0, sizeof mem);
  /* socket(7) SO_MEMINFO (Linux 4.6): the socket's memory figures, SK_MEMINFO_DROPS among them. */
  if (getsockopt(u->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0) return udp_throw_errno(env, "getsockopt(SO_MEMINFO)", errno);
  if (len < (SK_MEMINFO_DROPS + 1) * sizeof mem[0]) return udp_throw_errno(env, "getsockopt(SO_MEMINFO)", ENOTSUP);
  CHECK(napi_create_uint32(env, mem[SK_MEMINFO_DROPS], &out));
  return out;
}

static napi_value udp_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = socket_arg(env, argv[0]);
  if (u == NULL) return NULL;
  CHECK(napi_create_reference(env, argv[1], 1, &u->on_closed));
  udp_begin_close(u);
  return NULL;
}

/* Called from tun.c's init: exports.udp = { open, start, send, addressText, drops, close }. */
napi_value ipsec_es_udp_init(napi_env env, napi_value exports) {
  napi_value udp;
  napi_property_descriptor props[] = {
      {"open", NULL, udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, udp_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, udp_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addressText", NULL, udp_address_text, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drops", NULL, udp_drops, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, udp_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_create_object(env, &udp));
  CHECK(napi_define_properties(env, udp, sizeof props / sizeof props[0], props));
  CHECK(napi_set_named_property(env, exports, "udp", udp));
  return exports;
}
