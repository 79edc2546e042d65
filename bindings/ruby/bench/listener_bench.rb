# frozen_string_literal: true

# Cost per call of the flagwire DECISION listener, as ruby-sdk calls it:
# `listener.call(type, user_id, attributes, decision_info)` with Symbol keys.
#
#   ruby -Ilib bench/listener_bench.rb [--runs 7] [--calls 100000] [--endpoint URL]
#
# Each scenario runs `--runs` times `--calls` calls (Ruby's benchmark stdlib for wall time); the
# figures are the median ns per call, wall and the calling thread's CPU time (min and max shown too). By default events go to http://127.0.0.1:9 with max_retries 0: the sender still
# batches, serializes and gzips every event on its own thread, but no HTTP server competes for the
# CPU (pass --endpoint with a collector's URL to include one). Goal: <= 3 us per call.

require "benchmark"
require "etc"
require "json"
require "optparse"
require "flagwire"

options = { runs: 7, calls: 100_000, endpoint: "http://127.0.0.1:9" }
OptionParser.new do |o|
  o.on("--runs N", Integer) { |v| options[:runs] = v }
  o.on("--calls N", Integer) { |v| options[:calls] = v }
  o.on("--endpoint URL") { |v| options[:endpoint] = v }
end.parse!

REPO = File.expand_path("../../..", __dir__)
DATAFILE = File.read(File.join(REPO, "tests", "data", "minimal-datafile.json"))

def client(endpoint)
  Flagwire::Client.new(
    write_key: "bench", endpoint: endpoint, log_level: "off", max_retries: 0,
    batch_size: 2500, flush_interval_ms: 1000,
    max_queue_events: 2_000_000, max_queue_bytes: 1_000_000_000, close_timeout: 30
  )
end

# Exactly what ruby-sdk 5.x passes for a decide() in the checkout_ab experiment.
EXPOSURE = {
  flag_key: "checkout_flow", enabled: true, variables: { "button_color" => "green" },
  variation_key: "treatment", rule_key: "checkout_ab", reasons: [], decision_event_dispatched: true,
  experiment_id: "2001", variation_id: "5002"
}.freeze
ROLLOUT = {
  flag_key: "checkout_flow", enabled: true, variables: { "button_color" => "gray" },
  variation_key: "on", rule_key: "checkout_delivery", reasons: [], decision_event_dispatched: false,
  experiment_id: "6001", variation_id: "7001"
}.freeze
FEATURE = {
  feature_key: "checkout_flow", feature_enabled: true, source: "feature-test",
  source_info: { experiment_key: "checkout_ab", variation_key: "treatment" }
}.freeze
ATTRIBUTES = { "plan" => "pro", "country" => "FR" }.freeze

# Per run: wall-clock ns per call, and the calling thread's CPU ns per call (CLOCK_THREAD_CPUTIME_ID:
# not inflated when other processes take the CPU away, which on a shared 2-core machine they do).
def measure(runs, calls, after_run = nil)
  samples = Array.new(runs) do
    GC.start
    cpu = nil
    wall = Benchmark.realtime do
      cpu0 = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond)
      yield calls
      cpu = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond) - cpu0
    end
    after_run&.call
    [wall * 1e9 / calls, cpu.fdiv(calls)]
  end
  walls = samples.map(&:first).sort
  cpus = samples.map(&:last).sort
  { median: walls[runs / 2], min: walls.first, max: walls.last, cpu_median: cpus[runs / 2] }
end

runs = options[:runs]
calls = options[:calls]
results = {}

attached = client(options[:endpoint])
attached.set_datafile(DATAFILE) # what attach does
flush = -> { attached.flush(timeout: 60) }
l = attached.listener
user = "user-123"
users = Array.new(1024) { |i| "user-#{i}" } # distinct user ids, as in production
attrs = Array.new(1024) { |i| { "plan" => i.even? ? "pro" : "free", "country" => "FR" } } # fresh hashes, as the SDK's clones

l.call("flag", user, ATTRIBUTES, EXPOSURE) # warm up
results["flag exposure, datafile, 2 attributes"] =
  measure(runs, calls, flush) { |n| i = 0; while i < n; l.call("flag", users[i & 1023], attrs[i & 1023], EXPOSURE); i += 1; end }
results["flag exposure, datafile, no attributes"] =
  measure(runs, calls, flush) { |n| i = 0; while i < n; l.call("flag", users[i & 1023], {}, EXPOSURE); i += 1; end }
results["flag rollout (skipped), datafile"] =
  measure(runs, calls) { |n| i = 0; while i < n; l.call("flag", users[i & 1023], attrs[i & 1023], ROLLOUT); i += 1; end }
results["legacy feature exposure (JSON path)"] =
  measure(runs, calls, flush) { |n| i = 0; while i < n; l.call("feature", users[i & 1023], attrs[i & 1023], FEATURE); i += 1; end }
stats = attached.stats
attached.close(timeout: 60)

no_datafile = client(options[:endpoint])
l2 = no_datafile.listener
results["flag exposure, no datafile (JSON path, keeps ids)"] =
  measure(runs, calls, -> { no_datafile.flush(timeout: 60) }) { |n| i = 0; while i < n; l2.call("flag", users[i & 1023], attrs[i & 1023], EXPOSURE); i += 1; end }
no_datafile.close(timeout: 60)

empty = ->(_type, _user_id, _attributes, _decision_info) {}
results["baseline: empty Ruby lambda, same arguments"] =
  measure(runs, calls) { |n| i = 0; while i < n; empty.call("flag", users[i & 1023], attrs[i & 1023], EXPOSURE); i += 1; end }
results["baseline: bare FFI call (flagwire_abi_version)"] =
  measure(runs, calls) { |n| i = 0; while i < n; Flagwire::Native.flagwire_abi_version; i += 1; end }
json_state = JSON::State.new
results["baseline: JSON of the 2 attributes"] =
  measure(runs, calls) { |n| i = 0; while i < n; json_state.generate(attrs[i & 1023]); i += 1; end }

load = File.read("/proc/loadavg").split.first if File.readable?("/proc/loadavg")
puts "flagwire Ruby listener benchmark: ruby #{RUBY_VERSION}, ffi #{FFI::VERSION}, libflagwire #{Flagwire.version}, " \
     "#{runs} runs x #{calls} calls, endpoint #{options[:endpoint]}, #{Etc.nprocessors} CPUs, load average #{load || '?'}"
width = results.keys.map(&:size).max
puts format("%-#{width}s  %12s  %12s  %s", "scenario (ns per call)", "wall median", "thread CPU", "wall min..max")
results.each do |name, r|
  puts format("%-#{width}s  %12.0f  %12.0f  %.0f..%.0f", name, r[:median], r[:cpu_median], r[:min], r[:max])
end
puts "core stats after the datafile runs: exposures=#{stats[:exposures]} skipped=#{stats[:skipped]} " \
     "dropped_queue_full=#{stats[:dropped_queue_full]} listener_errors=#{stats[:listener_errors]}"
headline = results["flag exposure, datafile, 2 attributes"]
puts format("RESULT ruby_listener_ns_per_call wall_median=%.0f thread_cpu_median=%.0f goal=3000 %s",
            headline[:median], headline[:cpu_median], headline[:median] <= 3000 ? "MET" : "NOT MET (wall)")
