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

  spec.files = Dir.glob("lib/**/*.rb", base: __dir__) + %w[README.md flagwire.gemspec]

  # A platform gem (package.sh sets FLAGWIRE_GEM_PLATFORM, e.g. x86_64-linux) carries that
  # platform's libflagwire in lib/flagwire/native/<platform>/, loaded by path relative to the gem
  # (lib/flagwire/native.rb), never through an rpath. RubyGems installs it only where the platform
  # matches; a Ruby on another platform that loads it anyway gets a LibraryError saying how to
  # build a library. Without FLAGWIRE_GEM_PLATFORM this is the library-less gem of a checkout.
  if (platform = ENV["FLAGWIRE_GEM_PLATFORM"])
    natives = Dir.glob("lib/flagwire/native/#{platform}/libflagwire.{so,dylib}", base: __dir__)
    raise "flagwire.gemspec: no lib/flagwire/native/#{platform}/libflagwire.* to package (run package.sh)" if natives.empty?

    spec.platform = Gem::Platform.new(platform)
    spec.files += natives
  end
  spec.require_paths = ["lib"]

  spec.add_runtime_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "minitest", ">= 5.15"
end
