/*
 * ipsec_es_tun's raw ESP half: a raw IP socket of protocol 50 (RFC 4303 ESP without UDP
 * encapsulation) with batched syscalls, for adapters/udp/rawEspBind.ts. Registered by tun.c's
 * module init as `exports.raw`.
 *
 * open(family, address, rcvbuf, sndbuf, netns) -> [socket, rcvActual, sndActual]
 *     socket(family, SOCK_RAW, IPPROTO_ESP) bound to `address` ("0.0.0.0" / "::" = every local
 *     address); rcvbuf / sndbuf 0 = leave the kernel's default. `netns` non-empty: the socket is
 *     made in that network namespace (a path such as /run/netns/NAME) and lives there; the calling
 *     thread goes back to its own namespace at once.
 * start(socket, maxBatch, meta, onWake(count, errno, arrayBuffer | undefined))
 *     one recvmmsg(2) of up to maxBatch packets per uv_poll wake-up; packet i is
 *     meta[12i..12i+11] = [length, 0, family, msg_flags, source words 0..3, destination words 0..3]
 *     and its ESP bytes (SPI first, no IP header) follow packet i-1's in `arrayBuffer`, a fresh
 *     ArrayBuffer per batch (the receiver owns it).
 * send(socket, datas, addresses, count, errnos) -> packets the kernel accepted
 *     sendmmsg(2) of ESP packets; the kernel writes the IP header (protocol 50, the bound or the
 *     routed source). errnos[i] in: non-zero = skip, out: 0 | errno.
 * addressText(meta, slot, which) -> the IP literal of slot's source (which 0) or destination (1).
 * drops(socket) -> packets the kernel dropped on this socket (SO_MEMINFO, SK_MEMINFO_DROPS).
 * close(socket, onClosed(errno))
 *
 * The families differ on receive (raw(7), ipv6(7)): an AF_INET raw socket is handed the IPv4
 * header in front of the payload (its IHL says how long, options included; the destination is in
 * it); an AF_INET6 raw socket is handed the payload only (RFC 3542 §3: no IPv6 header on raw
 * sockets), so the destination comes from an IPV6_PKTINFO control message (RFC 3542 §6.1).
 * Either way the kernel has reassembled fragments first (raw delivery follows defragmentation).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef IPPROTO_ESP
#define IPPROTO_ESP 50
#endif

#define RAW_MAX_BATCH 1024
#define RAW_SLOT 65536 /* an IPv4 datagram is at most 65535 octets; an IPv6 payload too (no jumbograms) */
#define RAW_SEND_CHUNK 256
#define RAW_META_INTS 12
#define RAW_CONTROL 64 /* CMSG_SPACE(sizeof(struct in6_pktinfo)) is 40 */

typedef struct {
  napi_env env;
  int fd, family;
  uv_poll_t poll;
  int polling, closing, handle_closed, finalized, no_js;
  uint32_t max_batch;
  uint8_t *slab;
  uint8_t *control;              /* max_batch * RAW_CONTROL, IPv6 only */
  struct mmsghdr *rmsgs;
  struct iovec *riov;
  struct sockaddr_in6 *raddr;
  int32_t *meta;
  napi_ref on_wake, meta_ref, on_closed;
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  struct mmsghdr smsgs[RAW_SEND_CHUNK];
  struct iovec siov[RAW_SEND_CHUNK];
  struct sockaddr_in6 saddr[RAW_SEND_CHUNK];
  uint32_t sidx[RAW_SEND_CHUNK];
} raw_t;

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static napi_value raw_throw_errno(napi_env env, const char *op, int err) {
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

static raw_t *raw_arg(napi_env env, napi_value v) {
  raw_t *r = NULL;
  if (napi_get_value_external(env, v, (void **)&r) != napi_ok || r == NULL || r->family == 0) {
    napi_throw_type_error(env, NULL, "socket: not a raw ESP socket handle");
    return NULL;
  }
  if (r->closing) { napi_throw_error(env, "ERR_RAW_CLOSED", "socket: closed"); return NULL; }
  return r;
}

static void raw_drop_ref(napi_env env, napi_ref *ref) {
  if (*ref) { napi_delete_reference(env, *ref); *ref = NULL; }
}

static void raw_free_rx(raw_t *r) {
  free(r->slab); free(r->control); free(r->rmsgs); free(r->riov); free(r->raddr);
  r->slab = NULL; r->control = NULL; r->rmsgs = NULL; r->riov = NULL; r->raddr = NULL;
}

static void raw_stop_polling(raw_t *r) {
  if (r->polling) { uv_poll_stop(&r->poll); r->polling = 0; }
  if (r->no_js) return;
  raw_drop_ref(r->env, &r->on_wake); raw_drop_ref(r->env, &r->meta_ref);
  r->meta = NULL;
}

/* Packet i's ESP bytes, source and destination; returns the ESP length, offset in *start. */
static size_t raw_unpack(raw_t *r, uint32_t i, int32_t *m, size_t *start) {
  struct msghdr *h = &r->rmsgs[i].msg_hdr;
  size_t len = r->rmsgs[i].msg_len;
  uint8_t *p = r->riov[i].iov_base;
  memset(m + 4, 0, 32);
  m[1] = 0;
  m[3] = h->msg_flags;
  *start = 0;
  if (r->family == 4) {
    m[2] = 4;
    /* raw(7): an AF_INET raw socket receives the IP header; RFC 791 §3.1: IHL in 32-bit words. */
    size_t ihl = len >= 20 ? (size_t)(p[0] & 0x0f) * 4 : len;
    if (ihl < 20 || ihl > len) ihl = len; /* cannot happen from the kernel; hand up nothing */
    if (len >= 20) {
      memcpy(m + 4, p + 12, 4);  /* source */
      memcpy(m + 8, p + 16, 4);  /* destination */
    } else {
      memcpy(m + 4, &((struct sockaddr_in *)&r->raddr[i])->sin_addr, 4);
    }
    *start = ihl;
    return len - ihl;
  }
  m[2] = 6;
  memcpy(m + 4, &r->raddr[i].sin6_addr, 16);
  /* RFC 3542 §6.1: IPV6_PKTINFO carries the packet's destination address. */
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      memcpy(m + 8, &info.ipi6_addr, 16);
    }
  }
  return len;
}

static void raw_on_readable(uv_poll_t *handle, int status, int events) {
  raw_t *r = handle->data;
  int err = status < 0 ? -status : 0, n = 0;
  (void)events;
  if (!err) {
    for (uint32_t i = 0; i < r->max_batch; i++) {
      r->rmsgs[i].msg_hdr.msg_namelen = sizeof r->raddr[i];
      r->rmsgs[i].msg_hdr.msg_flags = 0;
      if (r->control) r->rmsgs[i].msg_hdr.msg_controllen = RAW_CONTROL;
      r->rmsgs[i].msg_len = 0;
    }
    /* recvmmsg(2): up to vlen packets in one call, without waiting (uv_poll said readable). */
    do n = recvmmsg(r->fd, r->rmsgs, r->max_batch, MSG_DONTWAIT, NULL); while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      n = 0;
    }
  }
  if (n == 0 && !err) return;
  if (r->no_js || r->on_wake == NULL || r->meta == NULL) return;

  napi_env env = r->env;
  napi_handle_scope scope;
  napi_value fn, recv, argv[3], exc;
  void *data = NULL;
  bool pending = false;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (n > 0) {
    size_t total = 0, starts[RAW_MAX_BATCH];
    for (int i = 0; i < n; i++) {
      int32_t *m = r->meta + (size_t)i * RAW_META_INTS;
      m[0] = (int32_t)raw_unpack(r, (uint32_t)i, m, &starts[i]);
      total += (size_t)m[0];
    }
    if (napi_create_arraybuffer(env, total, &data, &argv[2]) != napi_ok) { napi_close_handle_scope(env, scope); return; }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
      size_t len = (size_t)r->meta[(size_t)i * RAW_META_INTS];
      if (len) memcpy((uint8_t *)data + off, (uint8_t *)r->riov[i].iov_base + starts[i], len);
      off += len;
    }
  } else {
    napi_get_undefined(env, &argv[2]);
  }
  napi_create_int32(env, n, &argv[0]);
  napi_create_int32(env, err, &argv[1]);
  napi_get_reference_value(env, r->on_wake, &fn);
  napi_get_global(env, &recv);
  napi_make_callback(env, r->actx, recv, fn, 3, argv, NULL);
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &exc) == napi_ok)
    napi_fatal_exception(env, exc);
  napi_close_handle_scope(env, scope);
}

static void raw_on_handle_closed(uv_handle_t *h) {
  raw_t *r = h->data;
  int err = 0;
  if (close(r->fd) < 0) err = errno;
  r->handle_closed = 1;
  raw_free_rx(r);
  if (!r->no_js) {
    if (r->on_closed) {
      napi_handle_scope scope;
      napi_value fn, recv, arg, exc;
      bool pending = false;
      if (napi_open_handle_scope(r->env, &scope) == napi_ok) {
        napi_get_reference_value(r->env, r->on_closed, &fn);
        napi_get_global(r->env, &recv);
        napi_create_int32(r->env, err, &arg);
        napi_make_callback(r->env, r->actx, recv, fn, 1, &arg, NULL);
        if (napi_is_exception_pending(r->env, &pending) == napi_ok && pending &&
            napi_get_and_clear_last_exception(r->env, &exc) == napi_ok)
          napi_fatal_exception(r->env, exc);
        napi_close_handle_scope(r->env, scope);
      }
    }
    raw_drop_ref(r->env, &r->on_closed);
    napi_async_destroy(r->env, r->actx);
  }
  if (r->cleanup) { napi_remove_async_cleanup_hook(r->cleanup); r->cleanup = NULL; }
  if (r->finalized) free(r);
}

static void raw_begin_close(raw_t *r) {
  if (r->closing) return;
  raw_stop_polling(r);
  r->closing = 1;
  uv_close((uv_handle_t *)&r->poll, raw_on_handle_closed);
}

static void raw_on_env_teardown(napi_async_cleanup_hook_handle handle, void *data) {
  raw_t *r = data;
  (void)handle;
  r->no_js = 1;
  raw_begin_close(r);
}

static void raw_finalize(napi_env env, void *data, void *hint) {
  raw_t *r = data;
  (void)hint;
  r->finalized = 1;
  if (!r->no_js && !r->handle_closed) napi_async_destroy(env, r->actx);
  if (r->handle_closed) free(r);
  else { r->no_js = 1; raw_begin_close(r); }
}

static int raw_buffer_size(int fd, int opt, int32_t want, int32_t *actual) {
  socklen_t len = sizeof *actual;
  /* socket(7): the kernel doubles the value and caps the request at net.core.[rw]mem_max. */
  if (want > 0 && setsockopt(fd, SOL_SOCKET, opt, &want, sizeof want) < 0) return -1;
  return getsockopt(fd, SOL_SOCKET, opt, actual, &len);
}

/* socket(domain, SOCK_RAW, IPPROTO_ESP), in the network namespace at `netns` when one is named:
 * setns(2) moves only the calling thread, and only until it moves back; a socket keeps the
 * namespace it was made in. -1 with errno set, *op naming the call that failed. */
static int raw_socket_in(int domain, const char *netns, const char **op) {
  if (netns[0] == '\0') {
    *op = "socket";
    return socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
  }
  *op = "open(netns)";
  int target = open(netns, O_RDONLY | O_CLOEXEC);
  if (target < 0) return -1;
  *op = "open(/proc/thread-self/ns/net)";
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) { int e = errno; close(target); errno = e; return -1; }
  *op = "setns";
  if (setns(target, CLONE_NEWNET) < 0) { int e = errno; close(target); close(home); errno = e; return -1; }
  int fd = socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
  int e = errno;
  /* Back home, or this thread (Node's main thread) would open every later socket over there. */
  if (setns(home, CLONE_NEWNET) < 0) {
    napi_fatal_error("ipsec_es_tun raw", NAPI_AUTO_LENGTH, "setns back to the original network namespace failed", NAPI_AUTO_LENGTH);
  }
  close(target);
  close(home);
  *op = "socket";
  errno = e;
  return fd;
}

static napi_value raw_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result, ext, v;
  int32_t family, rcv, snd, rcv_actual = 0, snd_actual = 0;
  char text[INET6_ADDRSTRLEN + 1];
  char netns[4096];
  uv_loop_t *loop;
  struct sockaddr_in6 sa;
  socklen_t salen;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &family));
  CHECK(napi_get_value_string_utf8(env, argv[1], text, sizeof text, NULL));
  CHECK(napi_get_value_int32(env, argv[2], &rcv));
  CHECK(napi_get_value_int32(env, argv[3], &snd));
  CHECK(napi_get_value_string_utf8(env, argv[4], netns, sizeof netns, NULL));
  CHECK(napi_get_uv_event_loop(env, &loop));
  memset(&sa, 0, sizeof sa);
  if (family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
    s4->sin_family = AF_INET;
    if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return raw_throw_errno(env, "inet_pton", EINVAL);
    salen = sizeof *s4;
  } else if (family == 6) {
    sa.sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, text, &sa.sin6_addr) != 1) return raw_throw_errno(env, "inet_pton", EINVAL);
    salen = sizeof sa;
  } else {
    napi_throw_range_error(env, NULL, "family: must be 4 or 6");
    return NULL;
  }

  const char *op;
  int one = 1;
  int fd = raw_socket_in(family == 4 ? AF_INET : AF_INET6, netns, &op);
  if (fd < 0) return raw_throw_errno(env, op, errno);
  /* RFC 3542 §6.1 (ipv6(7) IPV6_RECVPKTINFO): the destination of each packet, which the SAD needs. */
  op = "setsockopt(IPV6_RECVPKTINFO)";
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0) goto fail;
  op = "setsockopt(SO_RCVBUF)";
  if (raw_buffer_size(fd, SO_RCVBUF, rcv, &rcv_actual) < 0) goto fail;
  op = "setsockopt(SO_SNDBUF)";
  if (raw_buffer_size(fd, SO_SNDBUF, snd, &snd_actual) < 0) goto fail;
  /* raw(7): bind() to a local address limits receive to packets sent to it and sets the source. */
  op = "bind";
  if (bind(fd, (struct sockaddr *)&sa, salen) < 0) goto fail;

  raw_t *r = calloc(1, sizeof *r);
  if (r == NULL) { close(fd); return raw_throw_errno(env, "calloc", ENOMEM); }
  r->env = env;
  r->fd = fd;
  r->family = family;
  r->poll.data = r;
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) { close(fd); free(r); return raw_throw_errno(env, "uv_poll_init", -rc); }
  CHECK(napi_create_string_utf8(env, "ipsec-es:raw-esp", NAPI_AUTO_LENGTH, &v));
  CHECK(napi_async_init(env, NULL, v, &r->actx));
  if (napi_add_async_cleanup_hook(env, raw_on_env_teardown, r, &r->cleanup) != napi_ok) r->cleanup = NULL;
  CHECK(napi_create_external(env, r, raw_finalize, NULL, &ext));
  CHECK(napi_create_array_with_length(env, 3, &result));
  CHECK(napi_set_element(env, result, 0, ext));
  CHECK(napi_create_int32(env, rcv_actual, &v));
  CHECK(napi_set_element(env, result, 1, v));
  CHECK(napi_create_int32(env, snd_actual, &v));
  CHECK(napi_set_element(env, result, 2, v));
  return result;
fail: {
    int e = errno;
    close(fd);
    return raw_throw_errno(env, op, e);
  }
}

static napi_value raw_start(napi_env env, napi_callback_info info) {
  size_t argc = 4, len;
  napi_value argv[4];
  napi_typedarray_type type;
  void *data;
  uint32_t max_batch;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  raw_t *r = raw_arg(env, argv[0]);
  if (r == NULL) return NULL;
  CHECK(napi_get_value_uint32(env, argv[1], &max_batch));
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &len, &data, NULL, NULL));
  if (max_batch < 1 || max_batch > RAW_MAX_BATCH) {
    napi_throw_range_error(env, NULL, "maxBatch: must be in [1, 1024]");
    return NULL;
  }
  if (type != napi_int32_array || len < (size_t)max_batch * RAW_META_INTS) {
    napi_throw_range_error(env, NULL, "meta: must be an Int32Array of 12 * maxBatch");
    return NULL;
  }
  raw_stop_polling(r);
  raw_free_rx(r);
  r->max_batch = max_batch;
  r->slab = malloc((size_t)max_batch * RAW_SLOT);
  r->rmsgs = calloc(max_batch, sizeof *r->rmsgs);
  r->riov = calloc(max_batch, sizeof *r->riov);
  r->raddr = calloc(max_batch, sizeof *r->raddr);
  if (r->family == 6) r->control = calloc(max_batch, RAW_CONTROL);
  if (!r->slab || !r->rmsgs || !r->riov || !r->raddr || (r->family == 6 && !r->control)) { raw_free_rx(r); return raw_throw_errno(env, "malloc", ENOMEM); }
  for (uint32_t i = 0; i < max_batch; i++) {
    r->riov[i].iov_base = r->slab + (size_t)i * RAW_SLOT;
    r->riov[i].iov_len = RAW_SLOT;
    r->rmsgs[i].msg_hdr.msg_iov = &r->riov[i];
    r->rmsgs[i].msg_hdr.msg_iovlen = 1;
    r->rmsgs[i].msg_hdr.msg_name = &r->raddr[i];
    if (r->control) r->rmsgs[i].msg_hdr.msg_control = r->control + (size_t)i * RAW_CONTROL;
  }
  r->meta = data;
  CHECK(napi_create_reference(env, argv[2], 1, &r->meta_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &r->on_wake));
  int rc = uv_poll_start(&r->poll, UV_READABLE, raw_on_readable);
  if (rc < 0) { raw_stop_polling(r); return raw_throw_errno(env, "uv_poll_start", -rc); }
  r->polling = 1;
  return NULL;
}

/* The destination as a sockaddr with port 0 (raw(7): for AF_INET6 a non-zero port must equal the
 * protocol); EINVAL when it is no address of this socket's family. */
static int raw_destination(raw_t *r, const char *text, struct sockaddr_in6 *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  if (r->family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return EINVAL;
    s4->sin_family = AF_INET;
    *len = sizeof *s4;
    return 0;
  }
  if (inet_pton(AF_INET6, text, &out->sin6_addr) != 1) return EINVAL;
  out->sin6_family = AF_INET6;
  *len = sizeof *out;
  return 0;
}

static void raw_clear_exception(napi_env env) {
  bool pending = false;
  napi_value e;
  napi_is_exception_pending(env, &pending);
  if (pending) napi_get_and_clear_last_exception(env, &e);
}

static napi_value raw_send(napi_env env, napi_callback_info info) {
  size_t argc = 5, len;
  napi_value argv[5], item, out;
  napi_typedarray_type type;
  uint32_t count, datas_len, sent = 0;
  int32_t *errnos;
  void *data;
  char text[INET6_ADDRSTRLEN + 1];
  size_t text_len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  raw_t *r = raw_arg(env, argv[0]);
  if (r == NULL) return NULL;
  CHECK(napi_get_value_uint32(env, argv[3], &count));
  CHECK(napi_get_array_length(env, argv[1], &datas_len));
  CHECK(napi_get_typedarray_info(env, argv[4], &type, &len, (void **)&errnos, NULL, NULL));
  if (type != napi_int32_array || len < count || datas_len < count) {
    napi_throw_range_error(env, NULL, "errnos: must be an Int32Array of count");
    return NULL;
  }
  uint32_t i = 0;
  int again = 0;
  while (i < count) {
    uint32_t k = 0;
    for (; i < count && k < RAW_SEND_CHUNK; i++) {
      if (errnos[i] != 0) continue;
      if (again) { errnos[i] = EAGAIN; continue; }
      CHECK(napi_get_element(env, argv[1], i, &item));
      if (napi_get_typedarray_info(env, item, &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
        raw_clear_exception(env);
        errnos[i] = EINVAL;
        continue;
      }
      CHECK(napi_get_element(env, argv[2], i, &item));
      if (napi_get_value_string_utf8(env, item, text, sizeof text, &text_len) != napi_ok || text_len >= sizeof text - 1) {
        raw_clear_exception(env);
        errnos[i] = EINVAL;
        continue;
      }
      socklen_t salen;
      int e = raw_destination(r, text, &r->saddr[k], &salen);
      if (e) { errnos[i] = e; continue; }
      r->siov[k].iov_base = data;
      r->siov[k].iov_len = len;
      memset(&r->smsgs[k], 0, sizeof r->smsgs[k]);
      r->smsgs[k].msg_hdr.msg_name = &r->saddr[k];
      r->smsgs[k].msg_hdr.msg_namelen = salen;
      r->smsgs[k].msg_hdr.msg_iov = &r->siov[k];
      r->smsgs[k].msg_hdr.msg_iovlen = 1;
      r->sidx[k] = i;
      k++;
    }
    uint32_t off = 0;
    while (off < k && !again) {
      /* sendmmsg(2): returns how many went; -1 only when the first fails: that one gets the errno. */
      int n = sendmmsg(r->fd, r->smsgs + off, k - off, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) { e = EAGAIN; again = 1; }
        errnos[r->sidx[off++]] = e;
        continue;
      }
      sent += (uint32_t)n;
      off += (uint32_t)n;
    }
    for (; off < k; off++) errnos[r->sidx[off]] = EAGAIN;
  }
  CHECK(napi_create_uint32(env, sent, &out));
  return out;
}

static napi_value raw_address_text(napi_env env, napi_callback_info info) {
  size_t argc = 3, len;
  napi_value argv[3], out;
  napi_typedarray_type type;
  int32_t *meta;
  uint32_t slot, which;
  char text[INET6_ADDRSTRLEN];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &len, (void **)&meta, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[1], &slot));
  CHECK(napi_get_value_uint32(env, argv[2], &which));
  if (type != napi_int32_array || ((size_t)slot + 1) * RAW_META_INTS > len || which > 1) {
    napi_throw_range_error(env, NULL, "slot: outside meta");
    return NULL;
  }
  int32_t *m = meta + (size_t)slot * RAW_META_INTS;
  if (inet_ntop(m[2] == 4 ? AF_INET : AF_INET6, m + 4 + 4 * which, text, sizeof text) == NULL) return raw_throw_errno(env, "inet_ntop", errno);
  CHECK(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value raw_drops(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  uint32_t mem[SK_MEMINFO_VARS];
  socklen_t len = sizeof mem;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  raw_t *r = raw_arg(env, argv[0]);
  if (r == NULL) return NULL;
  memset(mem, 0, sizeof mem);
  if (getsockopt(r->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0) return raw_throw_errno(env, "getsockopt(SO_MEMINFO)", errno);
  if (len < (SK_MEMINFO_DROPS + 1) * sizeof mem[0]) return raw_throw_errno(env, "getsockopt(SO_MEMINFO)", ENOTSUP);
  CHECK(napi_create_uint32(env, mem[SK_MEMINFO_DROPS], &out));
  return out;
}

static napi_value raw_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  raw_t *r = raw_arg(env, argv[0]);
  if (r == NULL) return NULL;
  CHECK(napi_create_reference(env, argv[1], 1, &r->on_closed));
  raw_begin_close(r);
  return NULL;
}

/* Called from tun.c's init: exports.raw = { open, start, send, addressText, drops, close }. */
napi_value ipsec_es_raw_init(napi_env env, napi_value exports) {
  napi_value raw;
  napi_property_descriptor props[] = {
      {"open", NULL, raw_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, raw_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, raw_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addressText", NULL, raw_address_text, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drops", NULL, raw_drops, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, raw_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_create_object(env, &raw));
  CHECK(napi_define_properties(env, raw, sizeof props / sizeof props[0], props));
  CHECK(napi_set_named_property(env, exports, "raw", raw));
  return exports;
}
