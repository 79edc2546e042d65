package flagwire

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

// attachment is one registration of this Client on one Optimizely client.
type attachment struct {
	c    *Client
	oc   *client.OptimizelyClient
	keys []any

	// mu guards the registrations and detached, and serializes datafile pushes so the last
	// push is the newest config.
	mu             sync.Mutex
	removeDecision func() error
	removeUpdate   func() error
	detached       bool
	once           sync.Once
}

// registered records a registration's undo, or runs it at once when a concurrent Close already
// detached this attachment (then Attach returns ErrClosed).
func (a *attachment) registered(field *func() error, undo func() error) bool {
	a.mu.Lock()
	if a.detached {
		a.mu.Unlock()
		_ = undo()
		return false
	}
	*field = undo
	a.mu.Unlock()
	return true
}

// Attach registers this Client's DECISION handler on the Optimizely client's notification
// center and a config-update handler that gives the library the datafile (now, and on every
// update of a polling config manager), so experiments are told from deliveries by flag.
// The returned detach func removes both handlers; it is idempotent, and Close calls it too.
//
// Attach refuses (ErrAlreadyAttached) a second registration on the same Optimizely client, or
// on another one that shares its notification center (the SDK keeps one center per SDK key
// per process): a second listener would send every exposure twice.
//
// The decision handler is added with optimizelyClient.GetNotificationCenter().AddHandler: that
// is the center decide() sends "flag" notifications to, even when the client was built with
// client.WithNotificationCenter (DecisionService.OnDecision registers on the SDK key's registry
// center, which is the same object unless a custom center is given).
func (c *Client) Attach(oc *client.OptimizelyClient) (detach func(), err error) {
	if oc == nil {
		return nil, errors.New("flagwire: Attach: nil OptimizelyClient")
	}
	center := oc.GetNotificationCenter()
	keys := []any{oc}
	if center != nil && reflect.TypeOf(center).Comparable() {
		keys = append(keys, center)
	}
	a := &attachment{c: c, oc: oc, keys: keys}

	c.attachMu.Lock()
	if c.closing {
		c.attachMu.Unlock()
		return nil, ErrClosed
	}
	for _, k := range keys {
		if _, dup := c.attached[k]; dup {
			c.attachMu.Unlock()
			return nil, ErrAlreadyAttached
		}
	}
	for _, k := range keys {
		c.attached[k] = a
	}
	c.attachMu.Unlock()

	fail := func(err error) (func(), error) {
		a.detach()
		return nil, err
	}

	// 1. Config updates first, so no update can fall between the first push and the handler.
	if oc.ConfigManager != nil {
		id, uerr := oc.ConfigManager.OnProjectConfigUpdate(func(notification.ProjectConfigUpdateNotification) {
			a.pushUpdate()
		})
		// A static config manager answers with an error: it never updates, nothing to listen to.
		if uerr == nil {
			cm := oc.ConfigManager
			if !a.registered(&a.removeUpdate, func() error { return cm.RemoveOnProjectConfigUpdate(id) }) {
				return fail(ErrClosed)
			}
		}
		if err := a.push(); err != nil {
			return fail(fmt.Errorf("flagwire: Attach: datafile refused: %w", err))
		}
	}

	// 2. The decision handler.
	handler := func(payload interface{}) {
		switch n := payload.(type) {
		case notification.DecisionNotification:
			c.OnDecision(n)
		case *notification.DecisionNotification:
			if n != nil {
				c.OnDecision(*n)
			}
		}
	}
	switch {
	case center != nil:
		id, aerr := center.AddHandler(notification.Decision, handler)
		if aerr != nil {
			return fail(fmt.Errorf("flagwire: Attach: %w", aerr))
		}
		if !a.registered(&a.removeDecision, func() error { return center.RemoveHandler(id, notification.Decision) }) {
			return fail(ErrClosed)
		}
	case oc.DecisionService != nil:
		id, aerr := oc.DecisionService.OnDecision(c.OnDecision)
		if aerr != nil {
			return fail(fmt.Errorf("flagwire: Attach: %w", aerr))
		}
		ds := oc.DecisionService
		if !a.registered(&a.removeDecision, func() error { return ds.RemoveOnDecision(id) }) {
			return fail(ErrClosed)
		}
	default:
		return fail(errors.New("flagwire: Attach: the Optimizely client has no notification center"))
	}
	return a.detach, nil
}

// push gives the library the datafile of the Optimizely client's current config.
func (a *attachment) push() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.detached {
		return nil
	}
	cfg, err := a.oc.ConfigManager.GetConfig()
	if err != nil || cfg == nil {
		return nil // not ready yet (polling manager before its first fetch); the update will push
	}
	df := cfg.GetDatafile()
	if df == "" {
		return nil
	}
	return a.c.SetDatafile(df)
}

// pushUpdate runs on the SDK's goroutine: it must never panic into the SDK.
func (a *attachment) pushUpdate() {
	defer func() {
		if r := recover(); r != nil {
			a.c.report.panics.Add(1)
		}
	}()
	if err := a.push(); err != nil && !errors.Is(err, ErrClosed) {
		a.c.report.datafileErrors.Add(1)
		a.c.report.tell(fmt.Errorf("flagwire: datafile update refused: %w", err))
	}
}

func (a *attachment) detach() {
	a.once.Do(func() {
		a.mu.Lock()
		a.detached = true
		removeDecision, removeUpdate := a.removeDecision, a.removeUpdate
		a.mu.Unlock()
		if removeDecision != nil {
			_ = removeDecision()
		}
		if removeUpdate != nil {
			_ = removeUpdate()
		}
		c := a.c
		c.attachMu.Lock()
		for _, k := range a.keys {
			if c.attached[k] == a {
				delete(c.attached, k)
			}
		}
		c.attachMu.Unlock()
	})
}

// detachAll removes every registration of this Client and refuses new ones (Close calls it).
// An Attach that registered its keys before this sees its attachment detached here; one that
// comes later finds closing set.
func (c *Client) detachAll() {
	c.attachMu.Lock()
	c.closing = true
	list := make([]*attachment, 0, len(c.attached))
	seen := map[*attachment]bool{}
	for _, a := range c.attached {
		if !seen[a] {
			seen[a] = true
			list = append(list, a)
		}
	}
	c.attachMu.Unlock()
	for _, a := range list {
		a.detach()
	}
}
