/* A plain C consumer of include/flagwire.h (ABI 2): the first user of the ABI, and the reference
 * for encoding a decision record in C.
 * Usage: flagwire_test <collector-base-url>   (the collector accepts write key "c-test-key").
 * Exits non-zero on the first failed check. Built with -Wall -Werror, run under valgrind by CI. */
#include "flagwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    checks++;                                                         \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
    }                                                                 \
  } while (0)

/* Reads one counter out of the stats JSON. */
static long stat_value(FlagwireClient *c, const char *key) {
  char *stats = flagwire_stats(c);
  char needle[64];
  long value = -1;
  snprintf(needle, sizeof needle, "\"%s\":", key);
  const char *at = stats ? strstr(stats, needle) : NULL;
  if (at) value = strtol(at + strlen(needle), NULL, 10);
  flagwire_string_free(stats);
  return value;
}

/* --- Decision records (docs/design.md §2.2) ------------------------------------------------ */

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* Encodes one flag decision into buf (capacity cap); returns its length, 0 when it does not fit.
 * Strings are given with their lengths (NULL = absent), so NUL bytes inside them are data. */
static size_t encode_record(unsigned char *buf, size_t cap, const char *const strs[7], const size_t lens[7],
                            int enabled, int dispatched, int64_t at_ms) {
  size_t total = 44;
  for (int i = 0; i < 7; i++) total += strs[i] ? lens[i] : 0;
  if (total > cap) return 0;
  put_u32(buf, (uint32_t)total);
  buf[4] = 1; /* format: flag decision */
  buf[5] = (unsigned char)(signed char)enabled;
  buf[6] = (unsigned char)(signed char)dispatched;
  buf[7] = 0;
  for (int i = 0; i < 8; i++) buf[8 + i] = (unsigned char)((uint64_t)at_ms >> (8 * i));
  size_t at = 44;
  for (int i = 0; i < 7; i++) {
    size_t n = strs[i] ? lens[i] : 0;
    put_u32(buf + 16 + 4 * i, (uint32_t)n);
    if (n) memcpy(buf + at, strs[i], n);
    at += n;
  }
  return total;
}

/* user, flag, rule, variation, experiment id, variation id, attributes (C strings, NULL = absent) */
static size_t record_of(unsigned char *buf, size_t cap, const char *user, const char *flag, const char *rule,
                        const char *variation, const char *experiment_id, const char *variation_id,
                        const char *attributes, int dispatched) {
  const char *strs[7] = {user, flag, rule, variation, experiment_id, variation_id, attributes};
  size_t lens[7];
  for (int i = 0; i < 7; i++) lens[i] = strs[i] ? strlen(strs[i]) : 0;
  return encode_record(buf, cap, strs, lens, 1, dispatched, 0);
}

/* --- Log callback ----------------------------------------------------------------------------- */

static int log_lines = 0;
static int log_mentions_sent = 0;

static void on_log(void *user_data, FlagwireLogLevel level, const char *message, size_t len) {
  (void)user_data;
  (void)level;
  log_lines++;
  if (message[len] == '\0' && strstr(message, "c-user-1")) log_mentions_sent++;
}

static FlagwireStatus expect_error(FlagwireStatus st, char *err, const char *word) {
  CHECK(err != NULL && strstr(err, word) != NULL, "out_error %s should mention %s", err ? err : "(null)", word);
  flagwire_string_free(err);
  return st;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <collector-url>\n", argv[0]);
    return 2;
  }
  const char *url = argv[1];

  CHECK(flagwire_abi_version() == FLAGWIRE_ABI_VERSION && FLAGWIRE_ABI_VERSION == 2, "abi %u", flagwire_abi_version());
  CHECK(strlen(flagwire_version()) > 0, "version");

  /* init failures: status, message naming the key, out_client untouched. */
  FlagwireClient *client = NULL;
  char *error = NULL;
  FlagwireStatus st = flagwire_init("{\"write_key\":\"k\",\"batchsize\":1}", &client, &error);
  CHECK(st == FLAGWIRE_STATUS_INVALID_CONFIG, "status %d", st);
  CHECK(client == NULL, "out_client written on failure");
  CHECK(error != NULL && strstr(error, "batchsize") != NULL, "error %s", error ? error : "(null)");
  flagwire_string_free(error);
  error = NULL;
  st = flagwire_init(NULL, &client, NULL);
  CHECK(st == FLAGWIRE_STATUS_NULL_ARGUMENT, "status %d", st);

  char config[512];
  snprintf(config, sizeof config,
           "{\"write_key\":\"c-test-key\",\"endpoint\":\"%s\",\"flush_interval_ms\":50,\"log_level\":\"debug\"}", url);
  st = flagwire_init(config, &client, &error);
  CHECK(st == FLAGWIRE_STATUS_OK && client != NULL && error == NULL, "init %d", st);
  if (!client) return 1;
  CHECK(flagwire_set_log_callback(client, on_log, NULL) == FLAGWIRE_STATUS_OK, "log callback");

  /* The record path: one record per call, and several in one call. */
  unsigned char rec[1024];
  size_t n = record_of(rec, sizeof rec, "c-user-1", "checkout_flow", "checkout_ab", "treatment", "2001", "5002",
                       "{\"plan\":\"pro\"}", 1);
  st = flagwire_on_decision_record(client, rec, n, NULL);
  CHECK(st == FLAGWIRE_STATUS_OK, "record %d", st);
  n = record_of(rec, sizeof rec, "c-user-2", "checkout_flow", NULL, NULL, NULL, NULL, NULL, -1);
  st = flagwire_on_decision_record(client, rec, n, NULL);
  CHECK(st == FLAGWIRE_STATUS_SKIPPED, "no rule -> skipped, got %d", st);
  {
    /* A user id with a NUL byte inside: lengths, not terminators. */
    const char *strs[7] = {"c-user\0nul", "checkout_flow", "checkout_ab", "control", NULL, NULL, NULL};
    size_t lens[7] = {10, 13, 11, 7, 0, 0, 0};
    size_t a = encode_record(rec, sizeof rec, strs, lens, 1, 1, 0);
    size_t b = record_of(rec + a, sizeof rec - a, "c-user-5", "checkout_flow", "checkout_ab", "control", NULL, NULL, NULL, 1);
    st = flagwire_on_decision_records(client, rec, a + b, NULL);
    CHECK(a > 0 && b > 0 && st == FLAGWIRE_STATUS_OK, "records %d", st);
  }
  const char *notification =
      "{\"type\":\"flag\",\"userId\":\"c-user-3\",\"attributes\":{},\"decisionInfo\":"
      "{\"flagKey\":\"checkout_flow\",\"ruleKey\":\"checkout_ab\",\"variationKey\":\"control\","
      "\"enabled\":false,\"decisionEventDispatched\":true}}";
  st = flagwire_on_notification_json(client, (const uint8_t *)notification, strlen(notification), NULL);
  CHECK(st == FLAGWIRE_STATUS_OK, "notification %d", st);
  const char *identify = "{\"type\":\"identify\",\"userId\":\"c-user-1\",\"traits\":{\"plan\":\"pro\"}}";
  st = flagwire_enqueue_json(client, (const uint8_t *)identify, strlen(identify), NULL);
  CHECK(st == FLAGWIRE_STATUS_OK, "enqueue %d", st);

  /* Bad input: statuses and per-call messages, never a crash. */
  char *err = NULL;
  st = flagwire_on_notification_json(client, (const uint8_t *)"{not json", 9, &err);
  CHECK(expect_error(st, err, "notification") == FLAGWIRE_STATUS_INVALID_JSON, "malformed json");
  err = NULL;
  st = flagwire_on_notification_json(client, NULL, 0, &err);
  CHECK(expect_error(st, err, "NULL") == FLAGWIRE_STATUS_NULL_ARGUMENT, "null json");
  CHECK(flagwire_on_notification_json(client, (const uint8_t *)"\xff\xfe", 2, NULL) == FLAGWIRE_STATUS_INVALID_UTF8,
        "bad utf8");
  err = NULL;
  st = flagwire_on_decision_record(client, rec, 10, &err);
  CHECK(expect_error(st, err, "record") == FLAGWIRE_STATUS_INVALID_ARGUMENT, "truncated record");
  err = NULL;
  const char *no_event = "{\"type\":\"track\",\"userId\":\"u\"}";
  st = flagwire_enqueue_json(client, (const uint8_t *)no_event, strlen(no_event), &err);
  CHECK(expect_error(st, err, "event") == FLAGWIRE_STATUS_INVALID_JSON, "track without event");
  CHECK(flagwire_set_datafile_json(client, (const uint8_t *)"[]", 2, NULL) == FLAGWIRE_STATUS_INVALID_JSON, "bad datafile");
  CHECK(flagwire_flush(NULL, 10) == FLAGWIRE_STATUS_NULL_ARGUMENT, "flush null");
  CHECK(flagwire_stats(NULL) == NULL, "stats null");
  flagwire_string_free(NULL);

  /* The deprecated ABI 1 inputs still work. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
  st = flagwire_on_flag_decision(client, "c-user-6", "checkout_flow", "checkout_ab", "treatment", 1, 1, NULL);
  CHECK(st == FLAGWIRE_STATUS_OK, "v1 on_flag_decision %d", st);
  CHECK(flagwire_on_decision(client, "{") == FLAGWIRE_STATUS_INVALID_JSON, "v1 on_decision");
  char *last = flagwire_last_error(client);
  CHECK(last != NULL && strstr(last, "notification") != NULL, "v1 last_error %s", last ? last : "(null)");
  flagwire_string_free(last);
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

#ifdef FLAGWIRE_TEST_PANIC
  /* Library built with --features testing: a forced panic comes back as a status. */
  err = NULL;
  st = flagwire_enqueue_json(client, (const uint8_t *)"__flagwire_test_panic__", 23, &err);
  CHECK(expect_error(st, err, "panic") == FLAGWIRE_STATUS_PANIC, "forced panic -> %d", st);
  n = record_of(rec, sizeof rec, "c-user-4", "f", "r", "v", NULL, NULL, NULL, 1);
  CHECK(flagwire_on_decision_record(client, rec, n, NULL) == FLAGWIRE_STATUS_OK, "client works after a panic");
#endif

  st = flagwire_flush(client, 5000);
  CHECK(st == FLAGWIRE_STATUS_OK, "flush %d", st);
  long enqueued = stat_value(client, "enqueued");
  long delivered = stat_value(client, "delivered");
  long failed = stat_value(client, "failed");
#ifdef FLAGWIRE_TEST_PANIC
  CHECK(enqueued == 7, "enqueued %ld", enqueued);
#else
  CHECK(enqueued == 6, "enqueued %ld", enqueued);
#endif
  CHECK(enqueued == delivered + failed && failed == 0, "invariant: %ld = %ld + %ld", enqueued, delivered, failed);
  CHECK(stat_value(client, "skipped") == 1, "skipped");

  st = flagwire_shutdown(client, 2000);
  CHECK(st == FLAGWIRE_STATUS_OK, "shutdown %d", st);
  CHECK(log_lines > 0 && log_mentions_sent > 0, "log callback: %d lines, %d about c-user-1", log_lines, log_mentions_sent);
  CHECK(flagwire_shutdown(NULL, 0) == FLAGWIRE_STATUS_OK, "shutdown NULL");

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
