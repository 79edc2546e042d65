module github.com/flagwire/flagwire/bindings/go

go 1.24

require (
	github.com/optimizely/go-sdk/v2 v2.3.1
	github.com/segmentio/analytics-go/v3 v3.3.0
)
