package flagwire_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/config"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

// newOptimizelyOwnCenter builds an offline client with its own notification center
// (client.WithNotificationCenter): decide() then notifies that center, not the SDK key's one.
func newOptimizelyOwnCenter(t testing.TB, datafile []byte) *client.OptimizelyClient {
	t.Helper()
	cm := config.NewStaticProjectConfigManagerWithOptions("", config.WithInitialDatafile(datafile))
	if cm == nil {
		t.Fatal("datafile did not parse")
	}
	oc, err := (&client.OptimizelyFactory{}).Client(client.WithConfigManager(cm),
		client.WithEventDispatcher(noopDispatcher{}), client.WithOdpDisabled(true),
		client.WithNotificationCenter(notification.NewNotificationCenter()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oc.Close)
	return oc
}

func TestAttachWithCustomNotificationCenter(t *testing.T) {
	resetCollector(t)
	raw := readDatafile(t, "minimal-datafile.json")
	oc := newOptimizelyOwnCenter(t, raw)
	c := newClient(t, nil)
	mustAttach(t, c, oc)
	want, _ := decideUsers(t, oc, indexDatafile(t, raw), []string{"checkout_flow"}, 0, 300, nil)
	checkExactly(t, c, want)
}

// Attach racing Close never leaves a handler registered on a closed client.
func TestAttachRacingClose(t *testing.T) {
	raw := readDatafile(t, "minimal-datafile.json")
	const clients = 4
	ocs := make([]*client.OptimizelyClient, clients)
	for i := range ocs {
		ocs[i] = newOptimizelyOwnCenter(t, raw)
	}
	for round := 0; round < 20; round++ {
		var afterClose atomic.Int64
		var closed atomic.Bool
		c, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: collectorURL, LogLevel: "off",
			OnError: func(err error) {
				if closed.Load() && errors.Is(err, flagwire.ErrClosed) {
					afterClose.Add(1)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, oc := range ocs {
			wg.Add(1)
			go func(oc *client.OptimizelyClient) {
				defer wg.Done()
				if _, err := c.Attach(oc); err != nil && !errors.Is(err, flagwire.ErrClosed) {
					t.Errorf("Attach: %v", err)
				}
			}(oc)
		}
		if err := c.Close(time.Second); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		closed.Store(true)
		for _, oc := range ocs {
			u := oc.CreateUserContext("after-close", nil)
			u.Decide("checkout_flow", nil)
		}
		if n := afterClose.Load(); n != 0 {
			t.Fatalf("round %d: %d handlers left registered after Close", round, n)
		}
	}
}
