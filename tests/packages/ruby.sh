#!/usr/bin/env bash
# The platform gem, installed with `gem install --local` into an empty GEM_HOME (its one
# dependency, ffi, from the system's gems: RubyGems.org is not reachable here): a script that
# requires only the installed gem attaches to a ruby-sdk-shaped project (the test stand-in,
# bindings/ruby/test/fake_optimizely.rb: the optimizely-sdk gem is not installable here) and
# delivers; the library it loads is the one inside the gem. The same gem on another platform
# refuses to load, saying how to build a library.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gem_file="$(ls "$DIST"/flagwire-"$VERSION"-*.gem)"
export GEM_HOME="$WORK/gems"
# Only the system's gem directories besides the empty GEM_HOME: never the checkout's lib/.
GEM_PATH="$GEM_HOME:$(ruby -e 'print Gem.default_path.join(":")')"
export GEM_PATH
unset FLAGWIRE_LIB RUBYLIB
gem install --local --no-document "$gem_file"
gem list flagwire | grep flagwire

cp "$REPO/bindings/ruby/test/fake_optimizely.rb" "$WORK/"
cat > "$WORK/app.rb" <<'RUBY'
require "flagwire"
require_relative "fake_optimizely"
url, datafile = ARGV
project = FakeOptimizely::Project.new(datafile: File.read(datafile))
flagwire = Flagwire::Client.new(write_key: "gem-test", endpoint: url)
flagwire.attach(project)
20.times do |i|
  if i.even?   # an experiment decision: an exposure
    variation = i % 4 == 0 ? "treatment" : "control"
    project.decide("gem-user-#{i}", "checkout_flow", rule_key: "checkout_ab", variation_key: variation)
    puts "gem-user-#{i}=#{variation}"
  else         # a rollout decision: not an exposure
    project.decide("gem-user-#{i}", "checkout_flow", rule_key: "checkout_delivery", variation_key: "on")
  end
end
raise "close failed" unless flagwire.close(timeout: 10)
warn "loaded #{Flagwire.library_path} (flagwire #{Flagwire.version})"
RUBY
cd "$WORK"
start_collector
expected="$(ruby app.rb "$COLLECTOR_URL" "$DATAFILE" 2>"$WORK/app.err" | paste -sd,)" || { cat "$WORK/app.err" >&2; exit 1; }
cat "$WORK/app.err"
expect_match "^loaded $GEM_HOME/gems/flagwire-$VERSION-[^/]*/lib/flagwire/native/[^/]*/libflagwire\.so " "$(cat "$WORK/app.err")" "the library inside the installed gem"
expect_exposures "$expected"

# Another platform. RubyGems itself does not activate an installed gem of another platform
# ("cannot load such file"); the gem's own check is for a gem directory that was copied there
# (an image or vendor/bundle built on another machine). Both, with RubyGems' idea of this
# machine changed after (second case) or before (first case) activating the gem.
stub='Gem::Platform.define_singleton_method(:local) { |*| Gem::Platform.new("aarch64-linux") }'
out="$(ruby -e "$stub; require 'flagwire'" 2>&1)" && { echo "FAIL: RubyGems loaded it on another platform" >&2; exit 1; }
expect_match "cannot load such file -- flagwire" "$out" "RubyGems skips the gem"
out="$(ruby -e "gem 'flagwire'; $stub; require 'flagwire'" 2>&1)" && { echo "FAIL: loaded on another platform" >&2; exit 1; }
grep -m1 -o "flagwire: this gem carries.*" <<<"$out"
expect_match "carries libflagwire for x86_64-linux only, and this Ruby runs on aarch64-linux.*cargo build --release -p flagwire.*FLAGWIRE_LIB" "$out" "the refusal says how to get a library"
echo "Ruby gem: OK"
