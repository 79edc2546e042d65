// Quickstart: the integration guide in one file. It creates the Optimizely client, attaches
// flagwire (DECISION listener + datafile on every config update), decides for a few users,
// sends one conversion event, and closes everything on exit.
//
//	go run ./examples/quickstart                         # local collector, bundled test datafile
//	go run ./examples/quickstart -endpoint https://api.segment.io -write-key $SEGMENT_WRITE_KEY \
//	    -sdk-key $OPTIMIZELY_SDK_KEY
//
// Flags fall back to the environment: FLAGWIRE_ENDPOINT, SEGMENT_WRITE_KEY, OPTIMIZELY_SDK_KEY,
// OPTIMIZELY_DATAFILE.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/config"
	"github.com/optimizely/go-sdk/v2/pkg/event"
)

type noDispatch struct{}

func (noDispatch) DispatchEvent(event.LogEvent) (bool, error) { return true, nil }

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	endpoint := flag.String("endpoint", env("FLAGWIRE_ENDPOINT", "http://127.0.0.1:8080"), "Segment-compatible endpoint (base URL)")
	writeKey := flag.String("write-key", env("SEGMENT_WRITE_KEY", "dev-write-key"), "Segment source write key")
	sdkKey := flag.String("sdk-key", env("OPTIMIZELY_SDK_KEY", ""), "Optimizely SDK key (empty: use -datafile offline)")
	datafile := flag.String("datafile", env("OPTIMIZELY_DATAFILE", "../../tests/data/minimal-datafile.json"), "datafile for an offline client")
	flagKey := flag.String("flag", "checkout_flow", "flag to decide")
	users := flag.Int("users", 10, "how many users to decide for")
	flag.Parse()
	if err := run(*endpoint, *writeKey, *sdkKey, *datafile, *flagKey, *users); err != nil {
		log.Fatal(err)
	}
}

func run(endpoint, writeKey, sdkKey, datafilePath, flagKey string, users int) error {
	// 1. The Optimizely client: from an SDK key (polls the datafile), or offline from a file.
	var oc *client.OptimizelyClient
	var err error
	if sdkKey != "" {
		oc, err = (&client.OptimizelyFactory{SDKKey: sdkKey}).Client()
	} else {
		var raw []byte
		if raw, err = os.ReadFile(datafilePath); err != nil {
			return err
		}
		cm := config.NewStaticProjectConfigManagerWithOptions("", config.WithInitialDatafile(raw))
		if cm == nil {
			return fmt.Errorf("%s: not a valid datafile", datafilePath)
		}
		// Offline demo: no impressions to Optimizely (a real app keeps the default dispatcher).
		oc, err = (&client.OptimizelyFactory{}).Client(client.WithConfigManager(cm),
			client.WithEventDispatcher(noDispatch{}), client.WithOdpDisabled(true))
	}
	if err != nil {
		return err
	}
	defer oc.Close()

	// 2. flagwire, attached once at startup. Zero values in Config mean the library's defaults.
	fw, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: endpoint})
	if err != nil {
		return err
	}
	defer func() {
		// Close detaches and delivers what is queued, within the deadline.
		if err := fw.Close(5 * time.Second); err != nil {
			log.Printf("flagwire close: %v", err)
		}
	}()
	if _, err := fw.Attach(oc); err != nil {
		return err
	}

	// 3. Decide as usual: every experiment exposure becomes an "Experiment Viewed" event.
	for i := 0; i < users; i++ {
		user := oc.CreateUserContext(fmt.Sprintf("user-%d", i), map[string]interface{}{"plan": "premium"})
		d := user.Decide(flagKey, nil)
		fmt.Printf("user-%d: flag=%s rule=%q variation=%q enabled=%v\n", i, d.FlagKey, d.RuleKey, d.VariationKey, d.Enabled)
	}

	// 4. Conversion events and traits go through the same queue.
	if err := fw.Enqueue(map[string]any{"type": "track", "userId": "user-0", "event": "Order Completed",
		"properties": map[string]any{"revenue": 42.5}}); err != nil {
		return err
	}

	if err := fw.Flush(5 * time.Second); err != nil {
		return err
	}
	st, err := fw.Stats()
	if err != nil {
		return err
	}
	fmt.Printf("decisions=%d exposures=%d skipped=%d delivered=%d failed=%d\n",
		st.Decisions, st.Exposures, st.Skipped, st.Delivered, st.Failed)
	return nil
}
