// benchsummary reads `go test -bench` output on stdin and prints the median of each metric per
// benchmark (over -count runs), then flagwire vs analytics-go for each pair. With -json PATH it
// also writes the summary JSON of the project-wide report (scripts/bench_report.py docstring).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type kvFlag map[string]string

func (f kvFlag) String() string { return fmt.Sprint(map[string]string(f)) }
func (f kvFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want name=value, got %q", v)
	}
	f[k] = val
	return nil
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func main() {
	jsonPath := flag.String("json", "", "also write the summary JSON for scripts/bench_report.py here")
	versions := kvFlag{}
	flag.Var(versions, "version", "name=version for the summary JSON (repeatable)")
	command := flag.String("command", "bindings/go/bench.sh", "command recorded in the summary JSON")
	flag.Parse()
	values := map[string]map[string][]float64{} // bench -> unit -> values
	iterations := map[string]int{}              // bench -> b.N of its last run
	var order []string
	var units []string
	seenUnit := map[string]bool{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := m[1]
		iterations[name], _ = strconv.Atoi(m[3])
		if values[name] == nil {
			values[name] = map[string][]float64{}
			order = append(order, name)
		}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			values[name][f[i+1]] = append(values[name][f[i+1]], v)
			if !seenUnit[f[i+1]] {
				seenUnit[f[i+1]] = true
				units = append(units, f[i+1])
			}
		}
	}
	if len(order) == 0 {
		fmt.Println("benchsummary: no benchmark lines on stdin")
		os.Exit(1)
	}
	fmt.Printf("\nMedians over runs:\n%-40s", "benchmark")
	for _, u := range units {
		fmt.Printf(" %17s", u)
	}
	fmt.Println()
	for _, name := range order {
		fmt.Printf("%-40s", strings.TrimPrefix(name, "Benchmark"))
		for _, u := range units {
			if v := values[name][u]; len(v) > 0 {
				fmt.Printf(" %17.0f", median(v))
			} else {
				fmt.Printf(" %17s", "-")
			}
		}
		fmt.Println()
	}
	fmt.Println("\nflagwire vs analytics-go (medians; lower ns is better, higher delivered/s is better):")
	for _, name := range order {
		if !strings.HasSuffix(name, "/flagwire") {
			continue
		}
		base := strings.TrimSuffix(name, "/flagwire")
		other := values[base+"/analytics-go"]
		fw := values[name]
		if other == nil {
			continue
		}
		c1, c2 := median(fw["ns/op"]), median(other["ns/op"])
		fmt.Printf("  %-26s ns/op %6.0f vs %6.0f  (%s)", strings.TrimPrefix(base, "Benchmark"), c1, c2, verdict(c1 <= c2, c2/c1, "x cheaper"))
		if p1, p2 := fw["p50-ns"], other["p50-ns"]; len(p1) > 0 && len(p2) > 0 {
			e1, e2 := median(p1), median(p2)
			fmt.Printf("; p50 ns %6.0f vs %6.0f  (%s)", e1, e2, verdict(e1 <= e2, e2/e1, "x cheaper"))
		}
		if u1, u2 := fw["caller-cpu-ns/op"], other["caller-cpu-ns/op"]; len(u1) > 0 && len(u2) > 0 {
			e1, e2 := median(u1), median(u2)
			fmt.Printf("; caller CPU ns/op %6.0f vs %6.0f  (%s)", e1, e2, verdict(e1 <= e2, e2/e1, "x cheaper"))
		}
		if d1, d2 := fw["delivered-events/s"], other["delivered-events/s"]; len(d1) > 0 && len(d2) > 0 {
			e1, e2 := median(d1), median(d2)
			fmt.Printf("; delivered/s %6.0f vs %6.0f  (%s)", e1, e2, verdict(e1 > e2, e1/e2, "x higher"))
		}
		fmt.Println()
	}
	if *jsonPath != "" {
		if err := writeSummary(*jsonPath, values, iterations, versions, *command); err != nil {
			fmt.Fprintln(os.Stderr, "benchsummary:", err)
			os.Exit(1)
		}
		fmt.Printf("\nwrote %s\n", *jsonPath)
	}
}

func verdict(ok bool, ratio float64, what string) string {
	if ok {
		return fmt.Sprintf("goal met, %.2f%s", ratio, what)
	}
	return fmt.Sprintf("goal NOT met, ratio %.2f", ratio)
}
