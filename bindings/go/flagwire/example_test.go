package flagwire_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// The quickstart example builds and runs against the test collector (skipped with -short).
func TestQuickstartExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	resetCollector(t)
	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/quickstart").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-endpoint", collectorURL, "-write-key", writeKey, "-users", "40")
	cmd.Dir = ".." // the module root, as in the README: its default -datafile is relative to it
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`exposures=(\d+) .* delivered=(\d+) failed=0`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no stats line in\n%s", out)
	}
	exposures, _ := strconv.Atoi(string(m[1]))
	delivered, _ := strconv.Atoi(string(m[2]))
	msgs := collectorMessages(t)
	if exposures == 0 || delivered != exposures+1 || len(msgs) != delivered {
		t.Fatalf("exposures %d, delivered %d, collector %d\n%s", exposures, delivered, len(msgs), out)
	}
}
