{
  "targets": [
    {
      "target_name": "ipsec_es_tun",
      "sources": ["tun.c", "udp.c", "raw.c", "coalesce.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
