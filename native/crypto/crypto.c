/*
 * ipsec_es_crypto: the ESP transform of one SA in C, over the OpenSSL that Node itself links
 * (its symbols are resolved from the node binary at load time: no library of our own).
 *
 * create(encr, keyBits, encKey, integ, integKey) -> { seal, open, sealBatch, openBatch, destroy }
 *                                                  | undefined (suite not offered here)
 *   seal(esp, seqHi)                          in place; RangeError on a length it cannot seal
 *   open(esp, seqHi)              -> boolean  in place, only when the ICV verifies
 *   sealBatch(esps, count, seqHis)            esps[0..count), seqHis: Uint32Array | undefined
 *   openBatch(esps, count, seqHis, ok)        ok[i] = 1 verified and decrypted, 0 untouched
 *   destroy()                                 frees the OpenSSL contexts now (else the GC does)
 *
 * It does exactly what engine/crypto/espTransform.ts does over the node/noble primitives (that
 * file is the reference; test/engine/crypto checks them byte for byte), on the RFC 4303 §2
 * layout: esp[0..4) SPI · [4..8) Seq_lo · [8..8+iv) IV · payload ‖ pad ‖ Pad Length ‖ Next
 * Header · [len-icv..len) ICV. seqHi is the high half of an extended sequence number, or
 * undefined without ESN; it enters the AAD/ICV, never the wire.
 *
 * Prepared once per SA: one EVP_CIPHER_CTX per direction keyed at creation, re-initialised per
 * packet with its IV only (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1)); HMAC as the keyed
 * inner and outer hash states (ipad/opad block absorbed once, RFC 2104 §2), copied per packet.
 * Measured here (OpenSSL 3.0, HMAC-SHA-256, 64 B): EVP_MAC_CTX_dup 590 ns, HMAC_CTX_copy 299 ns,
 * HMAC_Init_ex(key NULL) 199 ns, copied SHA256_CTX states 132 ns; hence the low-level states.
 *
 * Robustness: every length is checked here; open never throws on content (too short, bad ICV,
 * misaligned → false, packet untouched); only API misuse throws (TypeError for wrong types).
 * A packet pointer is used right after it is fetched, before any more JS can run (a getter on
 * the array cannot free a buffer we still hold), and `ok` is written once, re-fetched, at the end.
 */
#define NAPI_VERSION 8
/* SHA*_Init/Update/Final (deprecated in 3.0, still exported): the cheapest keyed HMAC state copy. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <limits.h>
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* IKEv2 transform IDs (engine/crypto/transformIds.ts). */
enum { ENCR_NULL = 11, ENCR_AES_CBC = 12, ENCR_AES_CTR = 13, ENCR_AES_GCM_16 = 20, ENCR_AES_GMAC = 21, ENCR_CHACHA = 28 };
enum { INTEG_NONE = 0, INTEG_SHA1_96 = 2, INTEG_SHA256_128 = 12, INTEG_SHA384_192 = 13, INTEG_SHA512_256 = 14 };
enum kind { K_AEAD, K_GMAC, K_CIPHER_MAC };

#define ESP_HEADER 8
#define AEAD_IV 8
#define AEAD_TAG 16
/* Larger than any IP packet (IPv6 jumbograms aside) and far below INT_MAX, the EVP length type. */
#define MAX_ESP (1u << 30)
#define STACK_BATCH 64

typedef union {
  SHA_CTX sha1;
  SHA256_CTX sha256;
  SHA512_CTX sha512;
} hash_ctx;

typedef struct {
  int integ; /* INTEG_* */
  size_t block, digest, icv;
  hash_ctx inner, outer; /* after absorbing key ^ ipad, key ^ opad */
} hmac_t;

typedef struct {
  int refs;       /* JS functions still holding this SA; freed at 0 */
  int destroyed;  /* contexts freed by destroy() */
  enum kind kind;
  int encr;
  size_t iv_len, icv_len, pad_align;
  EVP_CIPHER *cipher;
  EVP_CIPHER_CTX *enc, *dec;
  uint8_t salt[4];
  int has_mac;
  hmac_t mac;
} sa_t;

/* Per environment (one per worker thread): where an AEAD decrypts before its tag verified. */
typedef struct {
  uint8_t *scratch;
  size_t cap;
} env_data;

/* ---- HMAC (RFC 2104) over OpenSSL's low-level hash states ---- */

static void hash_init(int integ, hash_ctx *c) {
  switch (integ) {
    case INTEG_SHA1_96: SHA1_Init(&c->sha1); break;
    case INTEG_SHA256_128: SHA256_Init(&c->sha256); break;
    case INTEG_SHA384_192: SHA384_Init(&c->sha512); break;
    default: SHA512_Init(&c->sha512); break;
  }
}

static void hash_update(int integ, hash_ctx *c, const void *p, size_t n) {
  switch (integ) {
    case INTEG_SHA1_96: SHA1_Update(&c->sha1, p, n); break;
    case INTEG_SHA256_128: SHA256_Update(&c->sha256, p, n); break;
    default: SHA512_Update(&c->sha512, p, n); break; /* SHA-384 shares SHA-512's update */
  }
}

static void hash_final(int integ, uint8_t *out, hash_ctx *c) {
  switch (integ) {
    case INTEG_SHA1_96: SHA1_Final(out, &c->sha1); break;
    case INTEG_SHA256_128: SHA256_Final(out, &c->sha256); break;
    case INTEG_SHA384_192: SHA384_Final(out, &c->sha512); break;
    default: SHA512_Final(out, &c->sha512); break;
  }
}

/* RFC 4868 §2.1.1, RFC 2404 §3: the key is the hash's output size, never above its block size. */
static int hmac_setup(hmac_t *m, int integ, const uint8_t *key, size_t key_len) {
  switch (integ) {
    case INTEG_SHA1_96: m->block = 64; m->digest = 20; m->icv = 12; break;      /* RFC 2404 §2 */
    case INTEG_SHA256_128: m->block = 64; m->digest = 32; m->icv = 16; break;   /* RFC 4868 §2.1 */
    case INTEG_SHA384_192: m->block = 128; m->digest = 48; m->icv = 24; break;
    case INTEG_SHA512_256: m->block = 128; m->digest = 64; m->icv = 32; break;
    default: return 0;
  }
  if (key_len != m->digest) return -1;
  m->integ = integ;
  uint8_t pad[128];
  for (int which = 0; which < 2; which++) {
    memset(pad, which == 0 ? 0x36 : 0x5c, m->block); /* RFC 2104 §2: ipad, opad */
    for (size_t i = 0; i < key_len; i++) pad[i] ^= key[i];
    hash_ctx *c = which == 0 ? &m->inner : &m->outer;
    hash_init(integ, c);
    hash_update(integ, c, pad, m->block);
  }
  OPENSSL_cleanse(pad, sizeof pad);
  return 1;
}

/* The full HMAC over p[0..n) ‖ tail[0..tail_len) into out (m->digest bytes). */
static void hmac_compute(const hmac_t *m, const uint8_t *p, size_t n, const uint8_t *tail, size_t tail_len, uint8_t *out) {
  hash_ctx c = m->inner;
  uint8_t inner[64];
  hash_update(m->integ, &c, p, n);
  if (tail_len) hash_update(m->integ, &c, tail, tail_len);
  hash_final(m->integ, inner, &c);
  c = m->outer;
  hash_update(m->integ, &c, inner, m->digest);
  hash_final(m->integ, out, &c);
  OPENSSL_cleanse(&c, sizeof c);
}

/* ---- ESP framing ---- */

static void put_u32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)(v >> 24); b[1] = (uint8_t)(v >> 16); b[2] = (uint8_t)(v >> 8); b[3] = (uint8_t)v;
}

/*
 * The AAD of the combined modes: SPI ‖ Seq (8 octets), or with ESN SPI ‖ Seq_hi ‖ Seq_lo
 * (12 octets): RFC 4106 §5, RFC 7634 §2.1.
 */
static size_t aead_aad(const uint8_t *esp, int esn, uint32_t seq_hi, uint8_t aad[12]) {
  if (!esn) { memcpy(aad, esp, 8); return 8; }
  memcpy(aad, esp, 4);
  put_u32(aad + 4, seq_hi);
  memcpy(aad + 8, esp + 4, 4);
  return 12;
}

/* RFC 4106 §4, RFC 4543 §3.1, RFC 7634 §2: nonce = salt (4 octets of KEYMAT) ‖ the packet's IV. */
static void aead_nonce(const sa_t *sa, const uint8_t *esp, uint8_t nonce[12]) {
  memcpy(nonce, sa->salt, 4);
  memcpy(nonce + 4, esp + ESP_HEADER, AEAD_IV);
}

/* RFC 3602 §2.1 (CBC: the IV itself) or RFC 3686 §4 (CTR: nonce ‖ IV ‖ block counter 1). */
static const uint8_t *cipher_iv(const sa_t *sa, const uint8_t *esp, uint8_t block[16]) {
  if (sa->encr != ENCR_AES_CTR) return esp + ESP_HEADER;
  memcpy(block, sa->salt, 4);
  memcpy(block + 4, esp + ESP_HEADER, 8);
  block[12] = 0; block[13] = 0; block[14] = 0; block[15] = 1;
  return block;
}

/* EVP over a region in place; 1 on success. `ctx` keeps its key, only the IV changes. */
static int evp_crypt(EVP_CIPHER_CTX *ctx, const uint8_t *iv, uint8_t *data, size_t n) {
  int l = 0;
  uint8_t fin[32];
  if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1)) return 0;
  if (n && !EVP_CipherUpdate(ctx, data, &l, data, (int)n)) return 0;
  return EVP_CipherFinal_ex(ctx, fin, &l) > 0; /* no padding: writes nothing */
}

/* Smallest ESP this SA can seal or open: header, IV and ICV. */
static size_t min_len(const sa_t *sa) { return ESP_HEADER + sa->iv_len + sa->icv_len; }

/*
 * Why `seal` cannot take this packet, or NULL when it can. Seal is given packets the engine
 * built, so a wrong length is misuse (RangeError), never a silent drop.
 */
static const char *seal_refusal(const sa_t *sa, size_t len) {
  if (len < min_len(sa)) return "is shorter than the ESP header, IV and ICV";
  if (len > MAX_ESP) return "is longer than 2^30 octets";
  /* RFC 3602 §2.4: CBC encrypts whole 16-octet blocks; the padding is the caller's (RFC 4303 §2.4). */
  if (sa->encr == ENCR_AES_CBC && (len - min_len(sa)) % 16 != 0) return "has a CBC payload that is not a whole number of 16-octet blocks";
  return NULL;
}

/* Seals one packet already checked by seal_refusal; 0 when OpenSSL fails (it does not in practice). */
static int seal_one(sa_t *sa, uint8_t *esp, size_t len, int esn, uint32_t seq_hi) {
  if (sa->kind == K_AEAD || sa->kind == K_GMAC) {
    uint8_t nonce[12], aad[12], fin[32];
    int l = 0;
    size_t body = len - ESP_HEADER - AEAD_IV - AEAD_TAG;
    uint8_t *tag = esp + len - AEAD_TAG;
    EVP_CIPHER_CTX *c = sa->enc;
    aead_nonce(sa, esp, nonce);
    if (!EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, -1)) return 0;
    if (sa->kind == K_AEAD) {
      size_t aad_len = aead_aad(esp, esn, seq_hi, aad);
      if (!EVP_CipherUpdate(c, NULL, &l, aad, (int)aad_len)) return 0;
      uint8_t *pt = esp + ESP_HEADER + AEAD_IV;
      if (body && !EVP_CipherUpdate(c, pt, &l, pt, (int)body)) return 0;
    } else {
      /* RFC 4543 §3.3: GMAC authenticates SPI ‖ [Seq_hi ‖] Seq_lo ‖ IV ‖ payload ‖ trailer, encrypts nothing. */
      if (!esn) {
        if (!EVP_CipherUpdate(c, NULL, &l, esp, (int)(len - AEAD_TAG))) return 0;
      } else {
        uint8_t hi[4];
        put_u32(hi, seq_hi);
        if (!EVP_CipherUpdate(c, NULL, &l, esp, 4) || !EVP_CipherUpdate(c, NULL, &l, hi, 4) ||
            !EVP_CipherUpdate(c, NULL, &l, esp + 4, (int)(len - AEAD_TAG - 4))) return 0;
      }
    }
    if (EVP_CipherFinal_ex(c, fin, &l) <= 0) return 0;
    return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG, tag) > 0;
  }
  /* Encrypt, then MAC the result (RFC 4303 §3.3.2, §3.3.4). */
  size_t end = len - sa->icv_len;
  if (sa->enc) {
    uint8_t block[16];
    if (!evp_crypt(sa->enc, cipher_iv(sa, esp, block), esp + ESP_HEADER + sa->iv_len, end - ESP_HEADER - sa->iv_len)) return 0;
  }
  uint8_t mac[64], hi[4];
  /* RFC 4303 §2.2.1, §3.3.2.1: with ESN, Seq_hi is appended (implicitly) for the ICV only. */
  if (esn) put_u32(hi, seq_hi);
  hmac_compute(&sa->mac, esp, end, hi, esn ? 4 : 0, mac);
  memcpy(esp + end, mac, sa->icv_len); /* RFC 2104 §5, RFC 4868 §2.1.1: the leftmost octets */
  return 1;
}

/* Opens one packet in place: 1 when it verified and was decrypted, 0 (untouched) otherwise. */
static int open_one(napi_env env, sa_t *sa, uint8_t *esp, size_t len, int esn, uint32_t seq_hi) {
  if (esp == NULL || len < min_len(sa) || len > MAX_ESP) return 0;
  if (sa->kind == K_AEAD) {
    uint8_t nonce[12], aad[12];
    int l = 0, l2 = 0;
    size_t n = len - ESP_HEADER - AEAD_IV - AEAD_TAG;
    uint8_t *ct = esp + ESP_HEADER + AEAD_IV;
    EVP_CIPHER_CTX *c = sa->dec;
    env_data *ed = NULL;
    /* The plaintext goes to scratch first: the packet changes only once the tag verified. */
    if (napi_get_instance_data(env, (void **)&ed) != napi_ok || ed == NULL) return 0;
    if (ed->cap < n + 32) {
      size_t cap = n + 32 > 16384 ? n + 32 : 16384;
      uint8_t *grown = realloc(ed->scratch, cap);
      if (grown == NULL) return 0;
      ed->scratch = grown;
      ed->cap = cap;
    }
    aead_nonce(sa, esp, nonce);
    size_t aad_len = aead_aad(esp, esn, seq_hi, aad);
    int ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, -1) > 0 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG, esp + len - AEAD_TAG) > 0 &&
             EVP_CipherUpdate(c, NULL, &l, aad, (int)aad_len) > 0 &&
             (n == 0 || EVP_CipherUpdate(c, ed->scratch, &l, ct, (int)n) > 0) &&
             /* OpenSSL compares the tag in constant time (CRYPTO_memcmp) inside Final. */
             EVP_CipherFinal_ex(c, ed->scratch + (n ? (size_t)l : 0), &l2) > 0;
    if (!ok) {
      OPENSSL_cleanse(ed->scratch, n);
      ERR_clear_error();
      return 0;
    }
    memcpy(ct, ed->scratch, n);
    return 1;
  }
  if (sa->kind == K_GMAC) {
    uint8_t nonce[12], tag[AEAD_TAG], fin[32], hi[4];
    int l = 0;
    EVP_CIPHER_CTX *c = sa->enc; /* GMAC: the tag is recomputed and compared */
    aead_nonce(sa, esp, nonce);
    put_u32(hi, seq_hi);
    int ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, -1) > 0 &&
             (esn ? EVP_CipherUpdate(c, NULL, &l, esp, 4) > 0 && EVP_CipherUpdate(c, NULL, &l, hi, 4) > 0 &&
                        EVP_CipherUpdate(c, NULL, &l, esp + 4, (int)(len - AEAD_TAG - 4)) > 0
                  : EVP_CipherUpdate(c, NULL, &l, esp, (int)(len - AEAD_TAG)) > 0) &&
             EVP_CipherFinal_ex(c, fin, &l) > 0 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG, tag) > 0;
    if (!ok) { ERR_clear_error(); return 0; }
    return CRYPTO_memcmp(tag, esp + len - AEAD_TAG, AEAD_TAG) == 0;
  }
  size_t end = len - sa->icv_len;
  uint8_t mac[64], hi[4];
  if (esn) put_u32(hi, seq_hi); /* RFC 4303 §3.4.4.1 with §2.2.1: Seq_hi appended for the ICV */
  hmac_compute(&sa->mac, esp, end, hi, esn ? 4 : 0, mac);
  /* RFC 4303 §3.4.4.1: verify the ICV first, in constant time, and drop the packet when it fails. */
  if (CRYPTO_memcmp(mac, esp + end, sa->icv_len) != 0) return 0;
  if (sa->dec) {
    size_t n = end - ESP_HEADER - sa->iv_len;
    if (n % sa->pad_align != 0) return 0; /* as the reference: CBC whole blocks, CTR 4-octet aligned */
    uint8_t block[16];
    if (!evp_crypt(sa->dec, cipher_iv(sa, esp, block), esp + ESP_HEADER + sa->iv_len, n)) { ERR_clear_error(); return 0; }
  }
  return 1;
}

/* ---- SA lifetime ---- */

static void free_contexts(sa_t *sa) {
  if (sa->enc) EVP_CIPHER_CTX_free(sa->enc); /* cleanses the key schedule */
  if (sa->dec) EVP_CIPHER_CTX_free(sa->dec);
  if (sa->cipher) EVP_CIPHER_free(sa->cipher);
  sa->enc = sa->dec = NULL;
  sa->cipher = NULL;
  OPENSSL_cleanse(&sa->mac, sizeof sa->mac);
  OPENSSL_cleanse(sa->salt, sizeof sa->salt);
  sa->destroyed = 1;
}

static void release(napi_env env, void *data, void *hint) {
  sa_t *sa = data;
  if (--sa->refs > 0) return;
  if (!sa->destroyed) free_contexts(sa);
  free(sa);
}

/* ---- N-API glue ---- */

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static napi_value throw_type(napi_env env, const char *msg) { napi_throw_type_error(env, NULL, msg); return NULL; }

static sa_t *sa_of(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  sa_t *sa = NULL;
  if (napi_get_cb_info(env, info, argc, argv, NULL, (void **)&sa) != napi_ok) return NULL;
  if (sa->destroyed) { napi_throw_error(env, "ERR_ESP_TRANSFORM_DESTROYED", "ESP transform: used after destroy()"); return NULL; }
  return sa;
}

/* seqHi: undefined (no ESN) or a number (its low 32 bits, as writeU32 does). -1 after a TypeError. */
static int seq_hi_arg(napi_env env, napi_value v, uint32_t *hi) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  if (t != napi_number || napi_get_value_uint32(env, v, hi) != napi_ok) {
    napi_throw_type_error(env, NULL, "seqHi: must be a number or undefined");
    return -1;
  }
  return 1;
}

/* A Uint8Array's bytes (data may be NULL when detached, with len 0); 0 after a TypeError. */
static int bytes_arg(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  *data = p;
  if (p == NULL) *len = 0;
  return 1;
}

static napi_value range_error(napi_env env, const char *arg, const char *rule) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s", arg, rule);
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static napi_value openssl_error(napi_env env) {
  char msg[256] = "OpenSSL failed";
  unsigned long e = ERR_get_error();
  if (e) ERR_error_string_n(e, msg, sizeof msg);
  ERR_clear_error();
  napi_throw_error(env, "ERR_OPENSSL", msg);
  return NULL;
}

/*
 * The arguments seal and open share: the SA (`this`), `esp` a Uint8Array, `seqHi` undefined or a
 * uint32 (*esn 1 when given). The SA, or NULL after a thrown error.
 */
static sa_t *one_args(napi_env env, napi_callback_info info, uint8_t **esp, size_t *len, int *esn, uint32_t *hi) {
  size_t argc = 2;
  napi_value argv[2];
  sa_t *sa = sa_of(env, info, &argc, argv);
  if (sa == NULL) return NULL;
  /* Missing arguments read as undefined (napi_get_cb_info fills argv). */
  if (!bytes_arg(env, argv[0], "esp: must be a Uint8Array", esp, len)) return NULL;
  *hi = 0;
  *esn = seq_hi_arg(env, argv[1], hi);
  return *esn < 0 ? NULL : sa;
}

static napi_value js_seal(napi_env env, napi_callback_info info) {
  uint8_t *esp;
  size_t len;
  int esn;
  uint32_t hi;
  sa_t *sa = one_args(env, info, &esp, &len, &esn, &hi);
  if (sa == NULL) return NULL;
  const char *why = seal_refusal(sa, len);
  if (why) return range_error(env, "esp", why);
  if (!seal_one(sa, esp, len, esn, hi)) return openssl_error(env);
  return NULL;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  uint8_t *esp;
  size_t len;
  int esn;
  uint32_t hi;
  napi_value result;
  sa_t *sa = one_args(env, info, &esp, &len, &esn, &hi);
  if (sa == NULL) return NULL;
  CHECK(napi_get_boolean(env, open_one(env, sa, esp, len, esn, hi), &result));
  return result;
}

/*
 * The arguments both batch calls share: `esps` an array, `count` an integer in 0..esps.length,
 * `seqHis` undefined or a Uint32Array of at least `count` (copied into `his`, which the caller
 * frees when it is not `local`). 0 after a TypeError.
 */
static int batch_args(napi_env env, napi_value *argv, uint32_t *count, uint32_t **his, uint32_t *local) {
  bool is_array;
  uint32_t length;
  napi_valuetype t;
  double n;
  *his = NULL;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) { throw_type(env, "esps: must be an array of Uint8Array"); return 0; }
  if (napi_get_array_length(env, argv[0], &length) != napi_ok) return 0;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_number || napi_get_value_double(env, argv[1], &n) != napi_ok ||
      !(n >= 0 && n <= (double)length && n == (double)(uint32_t)n)) {
    throw_type(env, "count: must be an integer in 0..esps.length");
    return 0;
  }
  *count = (uint32_t)n;
  if (napi_typeof(env, argv[2], &t) != napi_ok) return 0;
  if (t == napi_undefined) return 1;
  napi_typedarray_type type;
  size_t hl;
  void *p = NULL;
  if (napi_get_typedarray_info(env, argv[2], &type, &hl, &p, NULL, NULL) != napi_ok || type != napi_uint32_array || hl < *count || (p == NULL && *count)) {
    throw_type(env, "seqHis: must be undefined or a Uint32Array of at least count elements");
    return 0;
  }
  *his = *count <= STACK_BATCH ? local : malloc((size_t)*count * 4);
  if (*his == NULL) { napi_throw_error(env, NULL, "seqHis: out of memory"); return 0; }
  if (*count) memcpy(*his, p, (size_t)*count * 4);
  return 1;
}

static napi_value js_seal_batch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  sa_t *sa = sa_of(env, info, &argc, argv);
  if (sa == NULL) return NULL;
  if (argc < 3) return throw_type(env, "sealBatch(esps, count, seqHis): 3 arguments");
  uint32_t count, local[STACK_BATCH], *his;
  if (!batch_args(env, argv, &count, &his, local)) return NULL;
  napi_value result = NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    uint8_t *esp;
    size_t len;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok) goto done;
    if (!bytes_arg(env, v, "esps: every element below count must be a Uint8Array", &esp, &len)) goto done;
    if (sa->destroyed) { napi_throw_error(env, "ERR_ESP_TRANSFORM_DESTROYED", "ESP transform: destroyed during sealBatch"); goto done; }
    const char *why = seal_refusal(sa, len);
    if (why) { range_error(env, "esps[i]", why); goto done; }
    if (!seal_one(sa, esp, len, his != NULL, his ? his[i] : 0)) { openssl_error(env); goto done; }
  }
done:
  if (his != local) free(his);
  return result;
}

static napi_value js_open_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  sa_t *sa = sa_of(env, info, &argc, argv);
  if (sa == NULL) return NULL;
  if (argc < 4) return throw_type(env, "openBatch(esps, count, seqHis, ok): 4 arguments");
  uint32_t count, local[STACK_BATCH], *his;
  uint8_t *okp = NULL, local_ok[STACK_BATCH], *oks;
  size_t ok_len = 0;
  if (!batch_args(env, argv, &count, &his, local)) return NULL;
  int ok_typed = bytes_arg(env, argv[3], "ok: must be a Uint8Array of at least count elements", &okp, &ok_len);
  if (!ok_typed || ok_len < count) {
    if (ok_typed) throw_type(env, "ok: must be a Uint8Array of at least count elements");
    if (his != local) free(his);
    return NULL;
  }
  oks = count <= STACK_BATCH ? local_ok : malloc(count);
  if (oks == NULL) {
    if (his != local) free(his);
    napi_throw_error(env, NULL, "ok: out of memory");
    return NULL;
  }
  uint32_t done = 0;
  for (; done < count; done++) {
    napi_value v;
    uint8_t *esp;
    size_t len;
    if (napi_get_element(env, argv[0], done, &v) != napi_ok ||
        !bytes_arg(env, v, "esps: every element below count must be a Uint8Array", &esp, &len)) break;
    if (sa->destroyed) { napi_throw_error(env, "ERR_ESP_TRANSFORM_DESTROYED", "ESP transform: destroyed during openBatch"); break; }
    oks[done] = (uint8_t)open_one(env, sa, esp, len, his != NULL, his ? his[done] : 0);
  }
  /* `ok` is re-fetched: a getter on `esps` may have detached it meanwhile. */
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending && bytes_arg(env, argv[3], "ok: detached during openBatch", &okp, &ok_len) && ok_len >= done) {
    if (done) memcpy(okp, oks, done);
  } else if (!pending) {
    throw_type(env, "ok: detached or shrunk during openBatch");
  }
  if (oks != local_ok) free(oks);
  if (his != local) free(his);
  return NULL;
}

static napi_value js_destroy(napi_env env, napi_callback_info info) {
  sa_t *sa = NULL;
  size_t argc = 0;
  if (napi_get_cb_info(env, info, &argc, NULL, NULL, (void **)&sa) != napi_ok) return NULL;
  if (!sa->destroyed) free_contexts(sa);
  return NULL;
}

static const char *cipher_name(int encr, uint32_t key_bits) {
  switch (encr) {
    case ENCR_AES_GCM_16:
    case ENCR_AES_GMAC:
      return key_bits == 128 ? "AES-128-GCM" : key_bits == 192 ? "AES-192-GCM" : key_bits == 256 ? "AES-256-GCM" : NULL;
    case ENCR_AES_CBC:
      return key_bits == 128 ? "AES-128-CBC" : key_bits == 192 ? "AES-192-CBC" : key_bits == 256 ? "AES-256-CBC" : NULL;
    case ENCR_AES_CTR:
      return key_bits == 128 ? "AES-128-CTR" : key_bits == 192 ? "AES-192-CTR" : key_bits == 256 ? "AES-256-CTR" : NULL;
    case ENCR_CHACHA:
      return key_bits == 256 ? "ChaCha20-Poly1305" : NULL;
    default:
      return NULL;
  }
}

/* create(encr, keyBits, encKey, integ, integKey | undefined) */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  uint32_t encr, key_bits, integ;
  uint8_t *key, *ikey = NULL;
  size_t key_len, ikey_len = 0;
  napi_valuetype t;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5 || napi_get_value_uint32(env, argv[0], &encr) != napi_ok || napi_get_value_uint32(env, argv[1], &key_bits) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &integ) != napi_ok)
    return throw_type(env, "create(encr, keyBits, encKey, integ, integKey): numbers for encr, keyBits, integ");
  if (!bytes_arg(env, argv[2], "encKey: must be a Uint8Array", &key, &key_len)) return NULL;
  CHECK(napi_typeof(env, argv[4], &t));
  if (t != napi_undefined && !bytes_arg(env, argv[4], "integKey: must be a Uint8Array or undefined", &ikey, &ikey_len)) return NULL;
  CHECK(napi_get_undefined(env, &result));

  int combined = encr == ENCR_AES_GCM_16 || encr == ENCR_AES_GMAC || encr == ENCR_CHACHA;
  if (encr == ENCR_NULL) key_bits = 0;
  else if (cipher_name((int)encr, key_bits) == NULL) return result; /* not offered here: the caller falls back */
  size_t salt_len = combined || encr == ENCR_AES_CTR ? 4 : 0;
  if (key_len != key_bits / 8 + salt_len) return range_error(env, "encKey", "wrong length for this transform");
  if (combined != (integ == INTEG_NONE)) return range_error(env, "integ", "must be NONE exactly with a combined mode");

  sa_t *sa = calloc(1, sizeof *sa);
  if (sa == NULL) { napi_throw_error(env, NULL, "create: out of memory"); return NULL; }
  sa->encr = (int)encr;
  if (salt_len) memcpy(sa->salt, key + key_bits / 8, salt_len);
  if (combined) {
    sa->kind = encr == ENCR_AES_GMAC ? K_GMAC : K_AEAD;
    sa->iv_len = AEAD_IV;
    sa->icv_len = AEAD_TAG;
    sa->pad_align = 4;
  } else {
    sa->kind = K_CIPHER_MAC;
    sa->iv_len = encr == ENCR_AES_CBC ? 16 : encr == ENCR_AES_CTR ? 8 : 0;
    sa->pad_align = encr == ENCR_AES_CBC ? 16 : 4;
    int r = hmac_setup(&sa->mac, (int)integ, ikey, ikey_len);
    if (r == 0) { free_contexts(sa); free(sa); return result; } /* e.g. HMAC-MD5-96: not offered here */
    if (r < 0 || ikey == NULL) { free_contexts(sa); free(sa); return range_error(env, "integKey", "wrong length for this integrity transform"); }
    sa->has_mac = 1;
    sa->icv_len = sa->mac.icv;
  }
  if (encr != ENCR_NULL) {
    sa->cipher = EVP_CIPHER_fetch(NULL, cipher_name((int)encr, key_bits), NULL);
    sa->enc = EVP_CIPHER_CTX_new();
    if (encr != ENCR_AES_GMAC) sa->dec = EVP_CIPHER_CTX_new();
    int ok = sa->cipher && sa->enc && EVP_CipherInit_ex(sa->enc, sa->cipher, NULL, key, NULL, 1) > 0 &&
             (sa->dec == NULL || (encr != ENCR_AES_GMAC && EVP_CipherInit_ex(sa->dec, sa->cipher, NULL, key, NULL, 0) > 0));
    if (ok && encr == ENCR_AES_CBC) ok = EVP_CIPHER_CTX_set_padding(sa->enc, 0) > 0 && EVP_CIPHER_CTX_set_padding(sa->dec, 0) > 0;
    if (!ok || (encr != ENCR_AES_GMAC && sa->dec == NULL)) {
      /* The algorithm is missing from this OpenSSL (a FIPS provider without ChaCha20): fall back. */
      ERR_clear_error();
      free_contexts(sa);
      free(sa);
      return result;
    }
  }
  sa->destroyed = 0;

  static const struct { const char *name; napi_callback cb; } methods[] = {
    {"seal", js_seal}, {"open", js_open}, {"sealBatch", js_seal_batch}, {"openBatch", js_open_batch}, {"destroy", js_destroy},
  };
  CHECK(napi_create_object(env, &result));
  sa->refs = 0;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, methods[i].name, NAPI_AUTO_LENGTH, methods[i].cb, sa, &fn) != napi_ok ||
        napi_add_finalizer(env, fn, sa, release, NULL, NULL) != napi_ok) {
      if (sa->refs == 0) { free_contexts(sa); free(sa); }
      return NULL; /* functions made so far release it when collected */
    }
    sa->refs++;
    CHECK(napi_set_named_property(env, result, methods[i].name, fn));
  }
  return result;
}

static void env_free(napi_env env, void *data, void *hint) {
  env_data *ed = data;
  if (ed->scratch) OPENSSL_clear_free(ed->scratch, ed->cap);
  free(ed);
}

NAPI_MODULE_INIT() {
  env_data *ed = calloc(1, sizeof *ed);
  if (ed == NULL || napi_set_instance_data(env, ed, env_free, NULL) != napi_ok) return NULL;
  napi_value fn;
  CHECK(napi_create_function(env, "create", NAPI_AUTO_LENGTH, js_create, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "create", fn));
  napi_value version;
  CHECK(napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &version));
  CHECK(napi_set_named_property(env, exports, "openssl", version));
  return exports;
}
