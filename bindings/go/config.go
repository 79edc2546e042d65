package flagwire

import "encoding/json"

// Config is the library's configuration (DESIGN §3). It marshals to exactly the JSON object
// flagwire_init takes: every field is omitted when zero, and the library then applies its
// default. Options whose default is true, and MaxRetries (where 0 means "no retries"), are
// pointers: nil = default; set them with Bool / Int.
type Config struct {
	// WriteKey is the Segment source write key (required). Sent as Basic auth, never logged.
	WriteKey string `json:"write_key"`
	// Endpoint is the base URL; "/v1/batch" is appended. Default https://api.segment.io.
	// EU: https://events.eu1.segmentapis.com. Any Segment-compatible collector works.
	Endpoint string `json:"endpoint,omitempty"`
	// BatchSize: messages per request, 1..2500. Default 100.
	BatchSize int `json:"batch_size,omitempty"`
	// FlushIntervalMS: the longest time an event waits before a send starts. Default 1000.
	FlushIntervalMS int `json:"flush_interval_ms,omitempty"`
	// MaxQueueEvents bounds the queue by count. Default 10000.
	MaxQueueEvents int `json:"max_queue_events,omitempty"`
	// MaxQueueBytes bounds the queue by serialized size. Default 16 MiB.
	MaxQueueBytes int64 `json:"max_queue_bytes,omitempty"`
	// MaxRetries: attempts after the first, per batch. nil = 10; Int(0) = no retries.
	MaxRetries *int `json:"max_retries,omitempty"`
	// BackoffBaseMS / BackoffMaxMS: exponential backoff with full jitter. Defaults 100 / 10000.
	BackoffBaseMS int `json:"backoff_base_ms,omitempty"`
	BackoffMaxMS  int `json:"backoff_max_ms,omitempty"`
	// RequestTimeoutMS: per HTTP request. Default 10000.
	RequestTimeoutMS int `json:"request_timeout_ms,omitempty"`
	// Gzip request bodies. nil = true.
	Gzip *bool `json:"gzip,omitempty"`
	// EventName of the exposure event. Default "Experiment Viewed".
	EventName string `json:"event_name,omitempty"`
	// PropertyStyle: "optimizely", "segment" or "both" (default).
	PropertyStyle string `json:"property_style,omitempty"`
	// IncludeAttributes copies the Optimizely user attributes into properties.userAttributes.
	// nil = true.
	IncludeAttributes *bool `json:"include_attributes,omitempty"`
	// IncludeRollouts also emits events for delivery (rollout) rules. Default false.
	IncludeRollouts bool `json:"include_rollouts,omitempty"`
	// UserIDField: "userId" (default) or "anonymousId": where the Optimizely user id goes.
	UserIDField string `json:"user_id_field,omitempty"`
	// HonorDisableDecisionEvent: a decision made with DISABLE_DECISION_EVENT is not an exposure.
	// nil = true.
	HonorDisableDecisionEvent *bool `json:"honor_disable_decision_event,omitempty"`
	// AllowInsecureHTTP allows plain http:// to hosts other than loopback. Default false.
	AllowInsecureHTTP bool `json:"allow_insecure_http,omitempty"`
	// Proxy: "http://host:port" for all requests. Default none.
	Proxy string `json:"proxy,omitempty"`
	// CACertsPEM: extra trusted root certificates, PEM text. Default none.
	CACertsPEM string `json:"ca_certs_pem,omitempty"`
	// LogLevel: "off", "error", "warn" (default), "info", "debug"; the library logs to stderr.
	LogLevel string `json:"log_level,omitempty"`
	// Profile configures the Segment Profile API (DESIGN §7). The lookup functions are not in
	// the C ABI yet; the settings are validated and kept by the library.
	Profile *ProfileConfig `json:"profile,omitempty"`

	// OnError, when set, is called with every error the decision handler (OnDecision, and so
	// Attach) meets: queue full, message too large, closed client, a refused datafile.
	// It runs on the goroutine that called decide; keep it fast. Not sent to the library.
	OnError func(error) `json:"-"`
}

// ProfileConfig is the "profile" object of the config (DESIGN §7).
type ProfileConfig struct {
	SpaceID          string   `json:"space_id"`
	AccessToken      string   `json:"access_token"`
	Endpoint         string   `json:"endpoint,omitempty"`
	Traits           []string `json:"traits,omitempty"`
	AccountBucketing bool     `json:"account_bucketing,omitempty"`
	CacheTTLMS       int      `json:"cache_ttl_ms,omitempty"`
	CacheMaxEntries  int      `json:"cache_max_entries,omitempty"`
	TimeoutMS        int      `json:"timeout_ms,omitempty"`
}

// Bool returns a pointer to v, for the *bool options of Config.
func Bool(v bool) *bool { return &v }

// Int returns a pointer to v, for Config.MaxRetries.
func Int(v int) *int { return &v }

// JSON returns the config object exactly as it is given to the library.
func (c Config) JSON() ([]byte, error) {
	type plain Config // drops methods, keeps tags
	return json.Marshal(plain(c))
}
