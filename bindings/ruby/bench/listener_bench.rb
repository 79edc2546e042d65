# frozen_string_literal: true

# Cost per call of the flagwire DECISION listener, as ruby-sdk calls it:
# `listener.call(type, user_id, attributes, decision_info)` with Symbol keys.
#
#   ruby -Ilib bench/listener_bench.rb [--runs 9] [--calls 100000] [--endpoint URL] [--json PATH]
#
# Every scenario runs `--runs` times `--calls` calls. The runs are interleaved (round 1 of every
# scenario, then round 2, ...), so a burst of load from another process spreads over all scenarios
# instead of landing on one. The figures are ns per call: the median, min and max of the runs'
# wall time, and the median of the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID: not
# inflated when the process is descheduled, which on a shared machine it is).
#
# By default events go to http://127.0.0.1:9 with max_retries 0: the sender still batches,
# serializes and gzips every event on its own thread, but no HTTP server competes for the CPU
# (pass --endpoint with a collector's URL to include one). Goal (issue 13): <= 1 us per call.
#
# --json PATH (bench.sh passes $FLAGWIRE_BENCH_JSON) also writes the summary that
# scripts/bench_report.py renders into BENCHMARKS.md.

require "benchmark"
require "etc"
require "json"
require "optparse"
require "flagwire"

options = { runs: 9, calls: 100_000, endpoint: "http://127.0.0.1:9", json: nil }
OptionParser.new do |o|
  o.on("--runs N", Integer) { |v| options[:runs] = v }
  o.on("--calls N", Integer) { |v| options[:calls] = v }
  o.on("--endpoint URL") { |v| options[:endpoint] = v }
  o.on("--json PATH") { |v| options[:json] = v }
end.parse!
raise OptionParser::InvalidArgument, "--runs and --calls must be positive" unless options[:runs].positive? && options[:calls].positive?

REPO = File.expand_path("../../..", __dir__)
DATAFILE = File.read(File.join(REPO, "tests", "data", "minimal-datafile.json"))
GOAL_NS = 1000

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
# ... and for the rollout (sendFlagDecisions is false in this datafile, so not dispatched). The
# binding converts it like any other decision; the core skips it.
ROLLOUT = {
  flag_key: "checkout_flow", enabled: true, variables: { "button_color" => "gray" },
  variation_key: "on", rule_key: "checkout_delivery", reasons: [], decision_event_dispatched: false,
  experiment_id: "6001", variation_id: "7001"
}.freeze
# ... and for the rollout when the datafile has sendFlagDecisions on.
ROLLOUT_DISPATCHED = ROLLOUT.merge(decision_event_dispatched: true).freeze
# ... and for is_feature_enabled (legacy API) in the experiment.
FEATURE = {
  feature_key: "checkout_flow", feature_enabled: true, source: "feature-test",
  source_info: { experiment_key: "checkout_ab", variation_key: "treatment" }
}.freeze

# One scenario: a name for the table, the JSON summary's name (nil: printed only), and the loop.
Scenario = Struct.new(:key, :label, :summary_name, :after_run, :body, :samples)

runs = options[:runs]
calls = options[:calls]

attached = client(options[:endpoint])
attached.set_datafile(DATAFILE) # what attach does
no_datafile = client(options[:endpoint])
l = attached.listener
l2 = no_datafile.listener
flush = -> { attached.flush(timeout: 60) }
flush2 = -> { no_datafile.flush(timeout: 60) }
users = Array.new(1024) { |i| "user-#{i}" } # distinct user ids, as in production
# Distinct Hash objects, as ruby-sdk passes (it clones the user context's attributes per decide).
attrs = Array.new(1024) { |i| { "plan" => i.even? ? "pro" : "free", "country" => "FR" } }
attrs_json = attrs.map { |h| JSON.generate(h) }
empty = ->(_type, _user_id, _attributes, _decision_info) {}
json_state = JSON::State.new
# Baselines only: the client pointer, and ready-made records (attributes' JSON included).
ptr = attached.instance_variable_get(:@native).instance_variable_get(:@ptr)
out_error = FFI::MemoryPointer.new(:pointer)
records = Array.new(1024) { |i| Flagwire::DecisionRecord.encode(users[i], EXPOSURE, attrs_json[i]) }

scenarios = [
  Scenario.new(:exposure, "flag exposure, datafile, 2 attributes",
               "Ruby: listener cost per DECISION call (exposure, decision record, 2 attributes)", flush,
               ->(n) { i = 0; while i < n; l.call("flag", users[i & 1023], attrs[i & 1023], EXPOSURE); i += 1; end }),
  Scenario.new(:exposure_no_attrs, "flag exposure, datafile, no attributes",
               "Ruby: listener, exposure, decision record, no attributes", flush,
               ->(n) { i = 0; while i < n; l.call("flag", users[i & 1023], {}, EXPOSURE); i += 1; end }),
  Scenario.new(:rollout, "flag rollout (skipped), not dispatched, 2 attributes",
               "Ruby: listener, rollout decision (skipped; sendFlagDecisions off), decision record, 2 attributes", nil,
               ->(n) { i = 0; while i < n; l.call("flag", users[i & 1023], attrs[i & 1023], ROLLOUT); i += 1; end }),
  Scenario.new(:rollout_dispatched, "flag rollout (skipped), dispatched, 2 attributes",
               "Ruby: listener, rollout decision (skipped; sendFlagDecisions on), decision record, 2 attributes", nil,
               ->(n) { i = 0; while i < n; l.call("flag", users[i & 1023], attrs[i & 1023], ROLLOUT_DISPATCHED); i += 1; end }),
  Scenario.new(:legacy, "legacy feature exposure (JSON path)",
               "Ruby: listener, legacy `feature` exposure (notification JSON path)", flush,
               ->(n) { i = 0; while i < n; l.call("feature", users[i & 1023], attrs[i & 1023], FEATURE); i += 1; end }),
  Scenario.new(:no_datafile, "flag exposure, no datafile, 2 attributes",
               "Ruby: listener, flag exposure before any datafile (decision record with the SDK's ids), 2 attributes", flush2,
               ->(n) { i = 0; while i < n; l2.call("flag", users[i & 1023], attrs[i & 1023], EXPOSURE); i += 1; end }),
  Scenario.new(:direct, "baseline: flagwire_on_decision_record via FFI, record ready",
               nil, flush,
               lambda { |n|
                 i = 0
                 while i < n
                   record = records[i & 1023]
                   Flagwire::Native.flagwire_on_decision_record(ptr, record, record.bytesize, out_error)
                   i += 1
                 end
               }),
  Scenario.new(:encode, "baseline: DecisionRecord.encode (Array#pack), JSON ready", nil, nil,
               ->(n) { i = 0; while i < n; Flagwire::DecisionRecord.encode(users[i & 1023], EXPOSURE, attrs_json[i & 1023]); i += 1; end }),
  Scenario.new(:lambda, "baseline: empty Ruby lambda, same arguments", nil, nil,
               ->(n) { i = 0; while i < n; empty.call("flag", users[i & 1023], attrs[i & 1023], EXPOSURE); i += 1; end }),
  Scenario.new(:ffi, "baseline: bare FFI call (flagwire_abi_version)", nil, nil,
               ->(n) { i = 0; while i < n; Flagwire::Native.flagwire_abi_version; i += 1; end }),
  Scenario.new(:json, "baseline: stdlib JSON of the 2 attributes", nil, nil,
               ->(n) { i = 0; while i < n; json_state.generate(attrs[i & 1023]); i += 1; end })
]

# One run: [wall ns per call, thread CPU ns per call].
def run_once(scenario, calls)
  GC.start
  cpu = nil
  wall = Benchmark.realtime do
    cpu0 = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond)
    scenario.body.call(calls)
    cpu = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond) - cpu0
  end
  scenario.after_run&.call
  [wall * 1e9 / calls, cpu.fdiv(calls)]
end

# Warm-up: every path once (and the JIT-less VM's inline caches).
scenarios.each { |s| s.body.call(1_000) }
flush.call
flush2.call

scenarios.each { |s| s.samples = [] }
runs.times do
  scenarios.each { |s| s.samples << run_once(s, calls) }
end

stats = attached.stats
attached.close(timeout: 60)
no_datafile.close(timeout: 60)

def median(sorted)
  n = sorted.size
  n.odd? ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
end

results = scenarios.to_h do |s|
  walls = s.samples.map(&:first).sort
  cpus = s.samples.map(&:last).sort
  [s.key, { median: median(walls), min: walls.first, max: walls.last, cpu_median: median(cpus), samples: walls.size }]
end

load = File.read("/proc/loadavg").split.first if File.readable?("/proc/loadavg")
puts "flagwire Ruby listener benchmark: #{RUBY_DESCRIPTION}, ffi #{FFI::VERSION}, json #{JSON::VERSION}, " \
     "libflagwire #{Flagwire.version}, #{runs} interleaved runs x #{calls} calls, endpoint #{options[:endpoint]}, " \
     "#{Etc.nprocessors} CPUs, load average at the end #{load || '?'}"
width = scenarios.map { |s| s.label.size }.max
puts format("%-#{width}s  %12s  %12s  %s", "scenario (ns per call)", "wall median", "thread CPU", "wall min..max")
scenarios.each do |s|
  r = results[s.key]
  puts format("%-#{width}s  %12.0f  %12.0f  %.0f..%.0f", s.label, r[:median], r[:cpu_median], r[:min], r[:max])
end
puts "core stats of the datafile client: exposures=#{stats[:exposures]} skipped=#{stats[:skipped]} " \
     "dropped_queue_full=#{stats[:dropped_queue_full]} dropped_invalid=#{stats[:dropped_invalid]} " \
     "listener_errors=#{stats[:listener_errors]}"
headline = results[:exposure]
ruby_side = headline[:cpu_median] - results[:direct][:cpu_median] - results[:json][:cpu_median] - results[:encode][:cpu_median]
puts format("Rest of the listener (thread CPU: headline - direct FFI call - attributes JSON - record encoding): %.0f ns", ruby_side)
verdict = if headline[:median] <= GOAL_NS then "MET"
          elsif headline[:cpu_median] <= GOAL_NS then "MET in thread CPU, NOT MET in wall time"
          else "NOT MET"
          end
puts format("RESULT ruby_listener_ns_per_call wall_median=%.0f thread_cpu_median=%.0f goal=#{GOAL_NS} %s",
            headline[:median], headline[:cpu_median], verdict)

if options[:json]
  rounded = ->(x) { x.round(1) }
  measures = scenarios.select(&:summary_name).map do |s|
    r = results[s.key]
    note = format("wall time; thread CPU median %.0f ns", r[:cpu_median])
    m = { name: s.summary_name, unit: "ns", better: "lower" }
    if s.key == :exposure
      m.merge!(goal: "<= 1 µs", goal_value: GOAL_NS, goal_kind: "absolute", headline: "caller")
      note += format(". In the same run: flagwire_on_decision_record called directly through FFI with the " \
                     "record ready %.0f ns, the record's encoding (Array#pack) %.0f ns, stdlib JSON of the 2 " \
                     "attributes %.0f ns, bare FFI call %.0f ns (thread CPU); median of %d runs x %d calls, " \
                     "load average %s",
                     results[:direct][:cpu_median], results[:encode][:cpu_median], results[:json][:cpu_median],
                     results[:ffi][:cpu_median], runs, calls, load || "?")
    end
    m.merge(flagwire: { median: rounded.(r[:median]), min: rounded.(r[:min]), max: rounded.(r[:max]), samples: r[:samples] },
            peer: nil, note: note)
  end
  command = +"bindings/ruby/bench.sh"
  command << " --runs #{runs} --calls #{calls}" unless runs == 9 && calls == 100_000
  command << " --endpoint #{options[:endpoint]}" unless options[:endpoint] == "http://127.0.0.1:9"
  summary = {
    language: "ruby",
    versions: { "ruby" => RUBY_DESCRIPTION, "ffi gem" => FFI::VERSION, "json gem" => JSON::VERSION },
    commands: [command],
    measures: measures
  }
  File.write(options[:json], "#{JSON.pretty_generate(summary)}\n")
  puts "wrote #{options[:json]}"
end
