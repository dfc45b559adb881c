{
  "targets": [
    {
      "target_name": "ipsec_es_crypto",
      "sources": ["crypto.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
