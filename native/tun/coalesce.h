/* native/tun/coalesce.c: GSO writes of coalesced runs to a TUN device opened with IFF_VNET_HDR. */
#ifndef IPSEC_ES_COALESCE_H
#define IPSEC_ES_COALESCE_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  double gsoWrites;  /* GSO writes made */
  double gsoPackets; /* packets they carried */
} coalesce_stats_t;

/* Writes pkts[i] (lens[i] octets) for every i with errnos[i] == 0, coalescing runs where exact;
 * errnos[i] out: 0 or the errno of its write. *gso_ok becomes 0 when the kernel refuses GSO.
 * Returns the packets written. */
uint32_t coalesce_write(int fd, const uint8_t *const *pkts, const size_t *lens, int32_t *errnos, uint32_t count, int *gso_ok, coalesce_stats_t *stats);
#endif
