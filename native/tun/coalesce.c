/*
 * Writes to a TUN device with IFF_VNET_HDR: runs of packets of one IPv4 TCP or UDP flow that
 * the kernel's own segmentation gives back byte for byte go down as one GSO packet (a
 * virtio_net_hdr saying TCPV4 or UDP_L4 with the segment size, then one IP header and the
 * payloads one after another): the stack is walked once per run, not once per packet
 * (wireguard-go and Linux GRO coalesce the same way). Everything else is written alone behind
 * an empty header.
 *
 * A run is coalesced only when re-segmenting it yields exactly the packets we were given
 * (include/linux/virtio_net.h, net/ipv4/tcp_offload.c, net/ipv4/udp_offload.c,
 * net/ipv4/af_inet.c inet_gso_segment): IPv4 without options, not a fragment, the same
 * addresses, TOS, TTL, DF and ports; IP IDs one apart (segmentation numbers them so); valid IP
 * and TCP/UDP checksums (segmentation computes them afresh, so a bad one would be repaired);
 * the same segment size but a last one that may be shorter; TCP: sequence numbers end to end,
 * the same ACK, window and options, flags ACK alone but on the last (ACK or ACK|PSH: the kernel
 * keeps PSH and FIN for the last segment only); UDP: a non-zero checksum.
 */
#include "coalesce.h"
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* virtio 1.2 §5.1.6; Linux >= 6.2 takes it on TUN; older headers lack it */
#endif

#define MAX_SEGMENTS 64
#define MAX_SUPER 65535

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* RFC 1071 one's complement sum, not folded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
  for (; n > 1; p += 2, n -= 2) s += (uint32_t)(p[0] << 8 | p[1]);
  if (n) s += (uint32_t)(p[0] << 8);
  return s;
}
static uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

/* The TCP/UDP pseudo-header (RFC 793 §3.1, RFC 768) sum for `len` octets of transport. */
static uint32_t pseudo(const uint8_t *ip, uint8_t proto, uint32_t len) {
  return sum16(ip + 12, 8, 0) + proto + len;
}

/* What a packet is, if it may join a run: 0 when it may not. */
typedef struct {
  uint8_t proto;   /* 6 or 17 */
  uint32_t hlen;   /* IP + transport header octets */
  uint32_t plen;   /* payload octets */
} shape_t;

static int shape_of(const uint8_t *p, size_t len, shape_t *s) {
  if (len < 28 || p[0] != 0x45) return 0;              /* IPv4, IHL 5: no options */
  if (be16(p + 2) != len) return 0;                     /* Total Length is the buffer */
  if ((be16(p + 6) & 0x3fff) != 0) return 0;            /* not a fragment (MF, offset) */
  if (fold(sum16(p, 20, 0)) != 0xffff) return 0;        /* header checksum verifies */
  uint8_t proto = p[9];
  uint32_t tl = (uint32_t)len - 20;
  if (proto == 17) {
    if (be16(p + 24) != tl || be16(p + 26) == 0) return 0; /* UDP length; a checksum present */
    if (fold(sum16(p + 20, tl, pseudo(p, 17, tl))) != 0xffff) return 0;
    s->hlen = 28;
  } else if (proto == 6) {
    if (len < 40) return 0; /* the fixed TCP header */
    uint32_t doff = (uint32_t)(p[32] >> 4) * 4;
    if (doff < 20 || 20 + doff > len) return 0;
    if (fold(sum16(p + 20, tl, pseudo(p, 6, tl))) != 0xffff) return 0;
    s->hlen = 20 + doff;
  } else {
    return 0;
  }
  s->proto = proto;
  s->plen = (uint32_t)len - s->hlen;
  return s->plen > 0;
}

/* Can `q` (shape qs) follow `p0` (the run's first) as segment k of a run of segment size gso? */
static int joins(const uint8_t *p0, const shape_t *s0, const uint8_t *prev, const shape_t *sprev, const uint8_t *q, const shape_t *qs, uint32_t k) {
  if (qs->proto != s0->proto || qs->hlen != s0->hlen || qs->plen > s0->plen) return 0;
  if (sprev->plen != s0->plen) return 0; /* only the last may be shorter */
  if (p0[1] != q[1] || p0[8] != q[8] || (p0[6] & 0x40) != (q[6] & 0x40)) return 0; /* TOS, TTL, DF */
  if (memcmp(p0 + 12, q + 12, 8) != 0) return 0;                                     /* addresses */
  if (be16(q + 4) != (uint16_t)(be16(p0 + 4) + k)) return 0;                          /* IDs one apart */
  if (memcmp(p0 + 20, q + 20, 4) != 0) return 0;                                      /* ports */
  if (s0->proto == 6) {
    if (be32(q + 24) != be32(prev + 24) + sprev->plen) return 0;                       /* sequence */
    if (memcmp(p0 + 28, q + 28, 4) != 0) return 0;                                    /* ACK */
    if (p0[32] != q[32] || be16(p0 + 34) != be16(q + 34) || be16(q + 38) != 0) return 0; /* offset, window, urgent */
    if (memcmp(p0 + 40, q + 40, s0->hlen - 40) != 0) return 0;                        /* options */
    if (prev[33] != 0x10) return 0;   /* every segment but the last: ACK alone */
    if (q[33] != 0x10 && q[33] != 0x18) return 0; /* the last: ACK or ACK|PSH */
  }
  return 1;
}

static int write_one(int fd, const uint8_t *p, size_t len) {
  struct virtio_net_hdr h;
  memset(&h, 0, sizeof h);
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)p, len}};
  ssize_t r;
  do r = writev(fd, iov, 2); while (r < 0 && errno == EINTR);
  if (r < 0) return errno;
  return (size_t)r == sizeof h + len ? 0 : EIO;
}

/* One GSO write of packets[first .. first+n): 0, or an errno. */
static int write_run(int fd, const uint8_t *const *pkts, const shape_t *shapes, uint32_t n) {
  const uint8_t *p0 = pkts[0];
  const shape_t *s0 = &shapes[0];
  uint8_t head[60 + 20];
  struct iovec iov[1 + 1 + MAX_SEGMENTS];
  struct virtio_net_hdr h;
  uint32_t total = s0->hlen;
  for (uint32_t i = 0; i < n; i++) total += shapes[i].plen;
  memcpy(head, p0, s0->hlen);
  const uint8_t *last = pkts[n - 1];
  put16(head + 2, (uint16_t)total);
  /* ip_rcv checks the header as it comes (RFC 791 §3.1); segmentation then writes each
   * segment's own. */
  head[10] = head[11] = 0;
  put16(head + 10, (uint16_t)~fold(sum16(head, 20, 0)));
  memset(&h, 0, sizeof h);
  /* virtio 1.x §5.1.6.2: NEEDS_CSUM with the checksum field holding the pseudo-header sum;
   * gso_size = the segment's payload; hdr_len = the headers in front of it. */
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.hdr_len = (uint16_t)s0->hlen;
  h.gso_size = (uint16_t)s0->plen;
  h.csum_start = 20;
  uint32_t tl = total - 20;
  if (s0->proto == 6) {
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h.csum_offset = 16;
    head[33] = last[33]; /* the last segment's flags (PSH): tcp_gso_segment clears them on the others */
    put16(head + 36, fold(pseudo(head, 6, tl)));
  } else {
    h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
    h.csum_offset = 6;
    put16(head + 24, (uint16_t)tl);
    put16(head + 26, fold(pseudo(head, 17, tl)));
  }
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof h;
  iov[1].iov_base = head;
  iov[1].iov_len = s0->hlen;
  for (uint32_t i = 0; i < n; i++) {
    iov[2 + i].iov_base = (void *)(pkts[i] + shapes[i].hlen);
    iov[2 + i].iov_len = shapes[i].plen;
  }
  ssize_t r;
  do r = writev(fd, iov, (int)(2 + n)); while (r < 0 && errno == EINTR);
  if (r < 0) return errno;
  return (size_t)r == sizeof h + total ? 0 : EIO;
}

uint32_t coalesce_write(int fd, const uint8_t *const *pkts, const size_t *lens, int32_t *errnos, uint32_t count, int *gso_ok, coalesce_stats_t *stats) {
  uint32_t written = 0;
  shape_t shapes[MAX_SEGMENTS];
  uint32_t i = 0;
  /* The packet that ended a run was shaped already (its checksums summed): the next run starts
   * from that result instead of summing them again. */
  uint32_t known = UINT32_MAX;
  int known_ok = 0;
  shape_t known_shape;
  while (i < count) {
    if (errnos[i] != 0) { i++; continue; }
    uint32_t n = 1;
    int head_ok = 0;
    if (*gso_ok) {
      if (known == i) { head_ok = known_ok; shapes[0] = known_shape; }
      else head_ok = shape_of(pkts[i], lens[i], &shapes[0]);
    }
    if (head_ok) {
      uint32_t total = shapes[0].hlen + shapes[0].plen;
      while (i + n < count && n < MAX_SEGMENTS && errnos[i + n] == 0) {
        int ok = shape_of(pkts[i + n], lens[i + n], &shapes[n]);
        if (!ok || total + shapes[n].plen > MAX_SUPER || !joins(pkts[i], &shapes[0], pkts[i + n - 1], &shapes[n - 1], pkts[i + n], &shapes[n], n)) {
          known = i + n;
          known_ok = ok;
          known_shape = shapes[n];
          break;
        }
        total += shapes[n].plen;
        n++;
        if (shapes[n - 1].plen < shapes[0].plen) break; /* a shorter one ends the run */
      }
    }
    if (n > 1) {
      int e = write_run(fd, pkts + i, shapes, n);
      if (e == 0) {
        written += n;
        stats->gsoWrites++;
        stats->gsoPackets += n;
        i += n;
        continue;
      }
      if (e != EINVAL && e != EOPNOTSUPP) {
        for (uint32_t k = 0; k < n; k++) errnos[i + k] = e;
        i += n;
        continue;
      }
      *gso_ok = 0; /* this kernel refuses it: one write per packet from now on */
    }
    for (uint32_t k = 0; k < n; k++) {
      int e = write_one(fd, pkts[i + k], lens[i + k]);
      if (e) errnos[i + k] = e;
      else written++;
    }
    i += n;
  }
  return written;
}
