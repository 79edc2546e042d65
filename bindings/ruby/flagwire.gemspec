# frozen_string_literal: true

require_relative "lib/flagwire/version"

Gem::Specification.new do |spec|
  spec.name = "flagwire"
  spec.version = Flagwire::VERSION
  spec.summary = "Optimizely Feature Experimentation decisions to Segment \"Experiment Viewed\" events"
  spec.description = <<~TEXT
    A DECISION notification listener for the Optimizely Ruby SDK that sends experiment exposures to
    Segment (or any Segment-compatible collector) as "Experiment Viewed" track events: classified per
    flag from the datafile, batched, gzip'd and retried by the flagwire native core (a Rust library
    loaded with the ffi gem), fork-safe for pre-forking servers.
  TEXT
  spec.authors = ["flagwire contributors"]
  spec.license = "Apache-2.0"
  # 3.1: Process._fork, the hook that restarts the ffi gem's callback thread in forked children.
  spec.required_ruby_version = ">= 3.1"

  # lib/flagwire/native/ holds the platform's libflagwire (copied there by package.sh) in a
  # packaged gem; it is looked up relative to the gem at load time, never through an rpath.
  spec.files = Dir.glob("lib/**/*.rb", base: __dir__) +
               Dir.glob("lib/flagwire/native/libflagwire.{so,dylib,dll}", base: __dir__) +
               %w[README.md flagwire.gemspec]
  spec.require_paths = ["lib"]

  spec.add_runtime_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "minitest", ">= 5.15"
end
