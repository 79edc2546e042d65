/* A plain C consumer of include/flagwire.h: the first user of the ABI.
 * Usage: flagwire_test <collector-base-url>   (the collector accepts write key "c-test-key").
 * Exits non-zero on the first failed check. Built with -Wall -Werror, run under valgrind by .ci/run. */
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

/* Reads one counter out of the stats JSON (flat object of integers). */
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

static void expect_error_mentions(FlagwireClient *c, const char *word) {
  char *err = flagwire_last_error(c);
  CHECK(err != NULL && strstr(err, word) != NULL, "last_error %s should mention %s", err ? err : "(null)", word);
  flagwire_string_free(err);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <collector-url>\n", argv[0]);
    return 2;
  }
  const char *url = argv[1];

  CHECK(flagwire_abi_version() == FLAGWIRE_ABI_VERSION, "abi %u", flagwire_abi_version());
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
           "{\"write_key\":\"c-test-key\",\"endpoint\":\"%s\",\"flush_interval_ms\":50,\"log_level\":\"off\"}", url);
  st = flagwire_init(config, &client, &error);
  CHECK(st == FLAGWIRE_STATUS_OK && client != NULL && error == NULL, "init %d", st);
  if (!client) return 1;

  /* The fast path and the JSON path. */
  st = flagwire_on_flag_decision(client, "c-user-1", "checkout_flow", "checkout_ab", "treatment", 1, 1,
                                 "{\"plan\":\"pro\"}");
  CHECK(st == FLAGWIRE_STATUS_OK, "on_flag_decision %d", st);
  st = flagwire_on_flag_decision(client, "c-user-2", "checkout_flow", NULL, NULL, 0, -1, NULL);
  CHECK(st == FLAGWIRE_STATUS_SKIPPED, "no rule -> skipped, got %d", st);
  st = flagwire_on_decision(client,
                            "{\"type\":\"flag\",\"userId\":\"c-user-3\",\"attributes\":{},\"decisionInfo\":"
                            "{\"flagKey\":\"checkout_flow\",\"ruleKey\":\"checkout_ab\",\"variationKey\":\"control\","
                            "\"enabled\":false,\"decisionEventDispatched\":true}}");
  CHECK(st == FLAGWIRE_STATUS_OK, "on_decision %d", st);
  st = flagwire_enqueue(client, "{\"type\":\"identify\",\"userId\":\"c-user-1\",\"traits\":{\"plan\":\"pro\"}}");
  CHECK(st == FLAGWIRE_STATUS_OK, "enqueue %d", st);

  /* Bad input: statuses and messages, never a crash. */
  CHECK(flagwire_on_decision(client, "{not json") == FLAGWIRE_STATUS_INVALID_JSON, "malformed json");
  expect_error_mentions(client, "notification");
  CHECK(flagwire_on_decision(client, NULL) == FLAGWIRE_STATUS_NULL_ARGUMENT, "null json");
  CHECK(flagwire_on_decision(client, "\xff\xfe") == FLAGWIRE_STATUS_INVALID_UTF8, "bad utf8");
  CHECK(flagwire_enqueue(client, "{\"type\":\"track\",\"userId\":\"u\"}") == FLAGWIRE_STATUS_INVALID_JSON, "track without event");
  expect_error_mentions(client, "event");
  CHECK(flagwire_set_datafile(client, "[]") == FLAGWIRE_STATUS_INVALID_JSON, "bad datafile");
  CHECK(flagwire_flush(NULL, 10) == FLAGWIRE_STATUS_NULL_ARGUMENT, "flush null");
  CHECK(flagwire_stats(NULL) == NULL, "stats null");
  flagwire_string_free(NULL);

#ifdef FLAGWIRE_TEST_PANIC
  /* Library built with --features testing: a forced panic comes back as a status. */
  st = flagwire_enqueue(client, "__flagwire_test_panic__");
  CHECK(st == FLAGWIRE_STATUS_PANIC, "forced panic -> %d", st);
  expect_error_mentions(client, "panic");
  CHECK(flagwire_on_flag_decision(client, "c-user-4", "f", "r", "v", 1, 1, NULL) == FLAGWIRE_STATUS_OK,
        "client works after a panic");
#endif

  st = flagwire_flush(client, 5000);
  CHECK(st == FLAGWIRE_STATUS_OK, "flush %d", st);
  long enqueued = stat_value(client, "enqueued");
  long delivered = stat_value(client, "delivered");
  long failed = stat_value(client, "failed");
#ifdef FLAGWIRE_TEST_PANIC
  CHECK(enqueued == 4, "enqueued %ld", enqueued);
#else
  CHECK(enqueued == 3, "enqueued %ld", enqueued);
#endif
  CHECK(enqueued == delivered + failed && failed == 0, "invariant: %ld = %ld + %ld", enqueued, delivered, failed);
  CHECK(stat_value(client, "skipped") == 1, "skipped");

  st = flagwire_shutdown(client, 2000);
  CHECK(st == FLAGWIRE_STATUS_OK, "shutdown %d", st);
  CHECK(flagwire_shutdown(NULL, 0) == FLAGWIRE_STATUS_OK, "shutdown NULL");

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
