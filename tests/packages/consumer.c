/* A C program built only from the C SDK tarball (pkg-config flagwire): gives the client a
 * datafile, hands it DECISION notifications (half experiment decisions, half rollout ones, which
 * are not exposures), flushes and shuts down. Prints one line per exposure it expects, USER=VARIATION.
 * Usage: consumer COLLECTOR_URL DATAFILE USERS */
#include <flagwire.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what, enum FlagwireStatus st, char *err) {
  fprintf(stderr, "%s: status %d: %s\n", what, (int)st, err ? err : "");
  flagwire_string_free(err);
  exit(1);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(1); }
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  char *buf = malloc(*len);
  if (!buf || fread(buf, 1, *len, f) != *len) { perror(path); exit(1); }
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s COLLECTOR_URL DATAFILE USERS\n", argv[0]); return 2; }
  if (flagwire_abi_version() != FLAGWIRE_ABI_VERSION) { fprintf(stderr, "ABI mismatch\n"); return 1; }
  char config[512], *err = NULL;
  snprintf(config, sizeof config, "{\"write_key\":\"c-sdk\",\"endpoint\":\"%s\"}", argv[1]);
  FlagwireClient *fw = NULL;
  enum FlagwireStatus st = flagwire_init(config, &fw, &err);
  if (st != FLAGWIRE_STATUS_OK) fail("flagwire_init", st, err);

  size_t len;
  char *datafile = read_file(argv[2], &len);
  if ((st = flagwire_set_datafile_json(fw, (const uint8_t *)datafile, len, &err)) != FLAGWIRE_STATUS_OK)
    fail("flagwire_set_datafile_json", st, err);
  free(datafile);

  int users = atoi(argv[3]);
  for (int i = 0; i < users; i++) {
    int experiment = i % 2 == 0;
    const char *variation = experiment ? (i % 4 == 0 ? "treatment" : "control") : "on";
    char n[512];
    int len = snprintf(n, sizeof n,
      "{\"type\":\"flag\",\"userId\":\"c-user-%d\",\"attributes\":{\"plan\":\"pro\"},\"decisionInfo\":"
      "{\"flagKey\":\"checkout_flow\",\"enabled\":true,\"ruleKey\":\"%s\",\"variationKey\":\"%s\","
      "\"decisionEventDispatched\":%s}}",
      i, experiment ? "checkout_ab" : "checkout_delivery", variation, experiment ? "true" : "false");
    st = flagwire_on_notification_json(fw, (const uint8_t *)n, (size_t)len, &err);
    if (st != (experiment ? FLAGWIRE_STATUS_OK : FLAGWIRE_STATUS_SKIPPED)) fail("flagwire_on_notification_json", st, err);
    if (experiment) printf("c-user-%d=%s\n", i, variation);
  }
  if ((st = flagwire_flush(fw, 10000)) != FLAGWIRE_STATUS_OK) fail("flagwire_flush", st, NULL);
  if ((st = flagwire_shutdown(fw, 5000)) != FLAGWIRE_STATUS_OK) fail("flagwire_shutdown", st, NULL);
  fprintf(stderr, "flagwire %s, ABI %u\n", flagwire_version(), flagwire_abi_version());
  return 0;
}
