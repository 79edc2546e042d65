package flagwire

import (
	"encoding/json"
	"log/slog"
)

// Config is the library's configuration (docs/design.md §3). It marshals to exactly the JSON object
// flagwire_init takes: every field is omitted when zero, and the library then applies its
// default. Options whose default is true, and MaxRetries (where 0 means "no retries"), are
// pointers: nil = default; set them with Bool / Int.
type Config struct {
	// WriteKey is the Segment source write key (required). Sent as Basic auth, never logged.
	WriteKey string `json:"write_key"`
	// Endpoint is the base URL; "/v1/batch" is appended. Default https://api.segment.io.
	// EU: https://events.eu1.segmentapis.com. Any Segment-compatible collector works.
	Endpoint string `json:"endpoint,omitempty"`
	// BatchSize: a batch may leave once it holds this many messages, 1..2500; with more
	// waiting it fills up to 500,000 bytes / 2,500 messages. Default 250.
	BatchSize int `json:"batch_size,omitempty"`
	// FlushIntervalMS: the longest time the oldest waiting event waits before its batch may
	// leave. Default 1000.
	FlushIntervalMS int `json:"flush_interval_ms,omitempty"`
	// MaxQueueEvents bounds the events held (waiting, being batched, in flight). Default 200000.
	MaxQueueEvents int `json:"max_queue_events,omitempty"`
	// MaxQueueBytes bounds their serialized size likewise. Default 64 MiB.
	MaxQueueBytes int64 `json:"max_queue_bytes,omitempty"`
	// MaxInFlight: requests in flight at once, 1..64. Default 40.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// MaxRequestsPerSecond: the request budget, 1..100000; under pressure batches grow instead
	// of requests multiplying. Default 200.
	MaxRequestsPerSecond int `json:"max_requests_per_second,omitempty"`
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
	// IncludeHoldouts emits events for holdout decisions (ruleType "holdout"). nil = true.
	IncludeHoldouts *bool `json:"include_holdouts,omitempty"`
	// HoldMaxEvents / HoldMaxBytes bound the decisions held while the datafile does not list
	// their rule (docs/design.md §4 rule 4). nil = 1000 / 1 MiB; Int(0) = never hold.
	HoldMaxEvents *int `json:"hold_max_events,omitempty"`
	HoldMaxBytes  *int `json:"hold_max_bytes,omitempty"`
	// HoldTimeoutMS: a held decision then falls back to the no-datafile rule. Default 5000.
	HoldTimeoutMS int `json:"hold_timeout_ms,omitempty"`
	// MaxExposureCounters bounds Stats.ExposuresByVariation. nil = 10000; Int(0) = none.
	MaxExposureCounters *int `json:"max_exposure_counters,omitempty"`
	// Dedupe turns on the dedupe window (docs/design.md §4.4): only the first exposure per
	// (user, flag) and assignment within the window is sent. nil: every exposure is sent.
	Dedupe *DedupeConfig `json:"dedupe,omitempty"`
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
	// LogLevel: "off", "error", "warn" (default), "info", "debug": the lines the library
	// produces. They go to Logger.
	LogLevel string `json:"log_level,omitempty"`
	// Profile configures the Segment Profile API (docs/design.md §7), used by ProfileAttributes and
	// ProfileUserID. nil: no Profile API (those return ErrInvalidConfig).
	Profile *ProfileConfig `json:"profile,omitempty"`
	// Spool keeps batches in files under a directory so a crash, a deploy or a long outage loses
	// nothing that was written (docs/design.md §5.1). nil: memory only.
	Spool *SpoolConfig `json:"spool,omitempty"`

	// Logger receives the library's log lines (docs/design.md §2.4) at the slog level of their
	// severity, with the attribute component=flagwire; the logger's own level filters them
	// too. nil: slog.Default() at each line. Lines come from the library's sender thread and
	// from calls such as Profile API lookups, possibly concurrently. Not sent to the library.
	Logger *slog.Logger `json:"-"`

	// OnError, when set, is called with every error the decision handler (OnDecision, and so
	// Attach) meets on the caller's goroutine: a closed client, attributes that cannot be
	// encoded, the library's error for a decision handed over at once (legacy types, strings
	// that are not UTF-8, a full buffer), a refused datafile update. What becomes of buffered
	// decisions in the library (queue full, too large) is counted in Stats, not reported here.
	// Keep it fast; a panic in it is recovered and counted. Not sent to the library.
	OnError func(error) `json:"-"`
}

// DedupeConfig is the "dedupe" object of the config (docs/design.md §4.4). Zero values mean the
// library's defaults.
type DedupeConfig struct {
	// WindowMS: a repeat of the same assignment within this is not sent. 0 = 86400000 (24 h).
	WindowMS int `json:"window_ms,omitempty"`
	// MaxEntries: (user, flag) pairs remembered, oldest evicted. nil = 1000000; Int(0) = no
	// local table (derived messageIds only).
	MaxEntries *int `json:"max_entries,omitempty"`
	// DeriveMessageIDs: UUID v5 messageIds per (source, user, flag, rule, variation, window), so a
	// fleet's repeats collapse at Segment. nil = true.
	DeriveMessageIDs *bool `json:"derive_message_ids,omitempty"`
}

// ProfileConfig is the "profile" object of the config (docs/design.md §7). Zero values mean the
// library's defaults.
type ProfileConfig struct {
	// SpaceID of the Unify space (Unify settings > API access). Required.
	SpaceID string `json:"space_id"`
	// AccessToken of the Profile API, sent as Basic auth, never logged. Required. Server-side
	// only: it reads every profile of the space.
	AccessToken string `json:"access_token"`
	// Endpoint: default https://profiles.segment.com; EU https://profiles.euw1.segment.com.
	// Plain http only to loopback unless Config.AllowInsecureHTTP.
	Endpoint string `json:"endpoint,omitempty"`
	// Traits: the trait keys to use as attributes (include list). Default: all scalar traits
	// (the first 200).
	Traits []string `json:"traits,omitempty"`
	// AccountBucketing adds "$opt_bucketing_id": "<group_id>" (the user's account) to the
	// attributes, so every user of one account gets the same variation. Default false.
	AccountBucketing bool `json:"account_bucketing,omitempty"`
	// CacheTTLMS: how long an answer (404s included) is fresh. Default 120000.
	CacheTTLMS int `json:"cache_ttl_ms,omitempty"`
	// CacheMaxEntries bounds the LRU cache. Default 100000.
	CacheMaxEntries int `json:"cache_max_entries,omitempty"`
	// TimeoutMS: the longest a lookup waits for the API. Default 300.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// SpoolConfig is the "spool" object of the config (docs/design.md §5.1). Zero values mean the
// library's defaults.
type SpoolConfig struct {
	// Dir: the spool directory (created if missing). Required. Processes and forked children
	// sharing it each get a subdirectory; the directory's owner sends what gone ones left.
	Dir string `json:"dir"`
	// MaxBytes bounds the disk used (whole 4 KiB blocks per file). Default 1 GiB.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// Sync: "interval" (default), "always" or "never": when written files are forced to the
	// disk. A process crash loses nothing written whatever this says; it matters for power loss.
	Sync string `json:"sync,omitempty"`
	// SyncIntervalMS: with Sync "interval", how often. Default 1000.
	SyncIntervalMS int `json:"sync_interval_ms,omitempty"`
}

// Bool returns a pointer to v, for the *bool options of Config.
func Bool(v bool) *bool { return &v }

// Int returns a pointer to v, for the *int options of Config.
func Int(v int) *int { return &v }

// JSON returns the config object exactly as it is given to the library.
func (c Config) JSON() ([]byte, error) {
	type plain Config // drops methods, keeps tags
	return json.Marshal(plain(c))
}
