# frozen_string_literal: true

# Cost per call of the flagwire DECISION listener, as ruby-sdk calls it:
# `listener.call(type, user_id, attributes, decision_info)` with Symbol keys.
#
#   ruby -Ilib bench/listener_bench.rb [--runs 9] [--calls 100000] [--endpoint URL] [--json PATH]
#
# Every scenario runs `--runs` times `--calls` calls. The runs are interleaved (round 1 of every
# scenario, then round 2, ...), so a burst of load from another process spreads over all scenarios
# instead of landing on one. The calling loop yields the GVL (Thread.pass) every BURST calls, as
# a request thread does whenever it waits for I/O; that is when the listener's drainer thread runs.
#
# Figures, ns per call, from each thread's CPU time (/proc/self/task/*/schedstat: not inflated
# when the process is descheduled, which on a shared machine it is):
#   caller    the calling thread: what decide() pays for the listener (the headline);
#   hand-over the drainer thread plus the final drain on the calling thread, which hands every
#             pending decision over inside the run: the work moved off the SDK's thread (the
#             core's part of it runs with the GVL released);
#   total     caller + hand-over;
#   wall      wall time of the run, final drain included (on a loaded machine mostly other
#             processes' time).
# Median over the runs, and min..max of the caller figure.
#
# By default events go to http://127.0.0.1:9 with max_retries 0: the sender still batches,
# serializes and gzips every event on its own thread (not counted above), but no HTTP server
# competes for the CPU (pass --endpoint with a collector's URL to include one).
# Goal (issue 13): <= 1 us per listener call.
#
# Runs against another copy of the gem too (ruby -I OTHER/lib bench/listener_bench.rb), e.g. the
# previous release, for before/after figures from the same machine and load: the baselines that
# need this release's internals are then left out.
#
# --json PATH (bench.sh passes $FLAGWIRE_BENCH_JSON) also writes the summary that
# scripts/bench_report.py renders into BENCHMARKS.md.

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
BURST = 100
CURRENT = defined?(Flagwire::DecisionBatcher) # this release (not an older copy of the gem)

def client(endpoint)
  Flagwire::Client.new(
    write_key: "bench", endpoint: endpoint, log_level: "off", max_retries: 0,
    batch_size: 2500, flush_interval_ms: 1000,
    max_queue_events: 2_000_000, max_queue_bytes: 1_000_000_000, close_timeout: 30
  )
end

# Hands the listener's pending decisions over on this thread (nothing to do for a release
# without a drainer).
def drain(client)
  client.instance_variable_get(:@batcher)&.drain
end

# CPU time (ns) of this process' threads by name (/proc/self/task/*/comm, 15 characters at most).
def cpu_by_thread
  Dir.glob("/proc/self/task/*").each_with_object(Hash.new(0)) do |dir, acc|
    acc[File.read("#{dir}/comm").strip] += Integer(File.read("#{dir}/schedstat").split.first)
  rescue Errno::ENOENT, Errno::ESRCH
    next # a thread that ended meanwhile
  end
end
DRAINER = "flagwire-decisi"

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
# ... and for is_feature_enabled (legacy API) in the experiment.
FEATURE = {
  feature_key: "checkout_flow", feature_enabled: true, source: "feature-test",
  source_info: { experiment_key: "checkout_ab", variation_key: "treatment" }
}.freeze

# One scenario: a name for the table, the JSON summary's name (nil: printed only), the client
# whose pending decisions the run hands over and flushes afterwards (nil: none), and the loop.
Scenario = Struct.new(:key, :label, :summary_name, :client, :body, :samples)

runs = options[:runs]
calls = options[:calls]

attached = client(options[:endpoint])
attached.set_datafile(DATAFILE) # what attach does
no_datafile = client(options[:endpoint])
l = attached.listener
l2 = no_datafile.listener
now = attached.method(:on_decision)
users = Array.new(1024) { |i| "user-#{i}" } # distinct user ids, as in production
# Distinct Hash objects, as ruby-sdk passes (it clones the user context's attributes per decide).
attrs = Array.new(1024) { |i| { "plan" => i.even? ? "pro" : "free", "country" => "FR" } }
attrs_json = attrs.map { |h| JSON.generate(h) }
empty = ->(_type, _user_id, _attributes, _decision_info) {}
json_state = JSON::State.new

# The loop every listener scenario runs: `n` calls, yielding the GVL every BURST calls.
calling = lambda do |callable, info, with_attributes|
  no_attributes = {}
  lambda do |n|
    i = 0
    while i < n
      callable.call(info.equal?(FEATURE) ? "feature" : "flag", users[i & 1023],
                    with_attributes ? attrs[i & 1023] : no_attributes, info)
      i += 1
      Thread.pass if (i % BURST).zero?
    end
  end
end

scenarios = [
  Scenario.new(:exposure, "listener: flag exposure, datafile, 2 attributes",
               "Ruby: listener cost per DECISION call on the SDK's thread (flag exposure, 2 attributes)",
               attached, calling.call(l, EXPOSURE, true)),
  Scenario.new(:exposure_no_attrs, "listener: flag exposure, datafile, no attributes",
               "Ruby: listener on the SDK's thread, flag exposure, no attributes", attached,
               calling.call(l, EXPOSURE, false)),
  Scenario.new(:rollout, "listener: flag rollout (skipped by the core), 2 attributes",
               "Ruby: listener on the SDK's thread, rollout decision (skipped by the core), 2 attributes",
               attached, calling.call(l, ROLLOUT, true)),
  Scenario.new(:no_datafile, "listener: flag exposure, no datafile, 2 attributes",
               "Ruby: listener on the SDK's thread, flag exposure before any datafile, 2 attributes",
               no_datafile, calling.call(l2, EXPOSURE, true)),
  Scenario.new(:legacy, "listener: legacy feature exposure (JSON, handed over at once)",
               "Ruby: listener, legacy `feature` exposure (notification JSON, handed over on the SDK's thread)",
               attached, calling.call(l, FEATURE, true)),
  Scenario.new(:now, "on_decision: flag exposure, 2 attributes, handed over at once",
               "Ruby: on_decision (the core's answer at once), flag exposure, 2 attributes", attached,
               calling.call(now, EXPOSURE, true)),
  Scenario.new(:lambda, "baseline: empty Ruby lambda, same arguments", nil, nil,
               calling.call(empty, EXPOSURE, true)),
  Scenario.new(:ffi, "baseline: bare FFI call (flagwire_abi_version)", nil, nil,
               ->(n) { i = 0; while i < n; Flagwire::Native.flagwire_abi_version; i += 1; end }),
  Scenario.new(:json, "baseline: stdlib JSON of the 2 attributes", nil, nil,
               ->(n) { i = 0; while i < n; json_state.generate(attrs[i & 1023]); i += 1; end })
]
if CURRENT
  # Baselines only: the client pointer, and ready-made records (attributes' JSON included).
  ptr = attached.instance_variable_get(:@native).instance_variable_get(:@ptr)
  out_error = FFI::MemoryPointer.new(:pointer)
  records = Array.new(1024) do |i|
    out = Flagwire::RecordBuffer.new
    Flagwire::DecisionRecord.write(out, users[i], EXPOSURE, attrs_json[i])
    out.to_s
  end
  scratch = Flagwire::RecordBuffer.new
  scenarios << Scenario.new(:direct, "baseline: flagwire_on_decision_record via FFI, record ready", nil, attached,
                            lambda { |n|
                              i = 0
                              while i < n
                                record = records[i & 1023]
                                Flagwire::Native.flagwire_on_decision_record(ptr, record, record.bytesize, out_error)
                                i += 1
                              end
                            })
  scenarios << Scenario.new(:encode, "baseline: DecisionRecord.write, JSON ready", nil, nil,
                            lambda { |n|
                              i = 0
                              while i < n
                                scratch.clear
                                Flagwire::DecisionRecord.write(scratch, users[i & 1023], EXPOSURE, attrs_json[i & 1023])
                                i += 1
                              end
                            })
end

# One run: ns per call [caller, hand-over, wall].
def run_once(scenario, calls)
  GC.start
  before = cpu_by_thread
  wall0 = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
  cpu0 = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond)
  scenario.body.call(calls)
  cpu1 = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond)
  drain(scenario.client) if scenario.client # hand the rest over, inside the run
  cpu2 = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID, :nanosecond)
  wall = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond) - wall0
  drainer = cpu_by_thread[DRAINER] - before[DRAINER]
  scenario.client&.flush(timeout: 60) # let the sender catch up before the next run
  [(cpu1 - cpu0).fdiv(calls), (cpu2 - cpu1 + drainer).fdiv(calls), wall.fdiv(calls)]
end

# Warm-up: every path once (and the JIT-less VM's inline caches).
scenarios.each { |s| s.body.call(1_000) }
[attached, no_datafile].each { |c| c.flush(timeout: 60) }

scenarios.each { |s| s.samples = [] }
runs.times do
  scenarios.each { |s| s.samples << run_once(s, calls) }
end

stats = attached.stats
attached.close(timeout: 60)
no_datafile.close(timeout: 60)

def median(values)
  sorted = values.sort
  n = sorted.size
  n.odd? ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
end

results = scenarios.to_h do |s|
  caller, handover, wall = s.samples.transpose
  [s.key, { caller: median(caller), min: caller.min, max: caller.max, handover: median(handover),
            total: median(caller.zip(handover).map(&:sum)), wall: median(wall), samples: caller.size }]
end

load = File.read("/proc/loadavg").split.first if File.readable?("/proc/loadavg")
puts "flagwire Ruby listener benchmark: #{RUBY_DESCRIPTION}, ffi #{FFI::VERSION}, json #{JSON::VERSION}, " \
     "gem #{Flagwire::VERSION} (#{$LOADED_FEATURES.grep(%r{/flagwire\.rb\z}).first}), libflagwire #{Flagwire.version}, " \
     "#{runs} interleaved runs x #{calls} calls, GVL yielded every #{BURST} calls, endpoint #{options[:endpoint]}, " \
     "#{Etc.nprocessors} CPUs, load average at the end #{load || '?'}"
width = scenarios.map { |s| s.label.size }.max
puts format("%-#{width}s  %8s  %12s  %9s  %8s  %s", "scenario (ns per call, thread CPU)", "caller", "caller min..max",
            "hand-over", "total", "wall")
scenarios.each do |s|
  r = results[s.key]
  puts format("%-#{width}s  %8.0f  %12s  %9.0f  %8.0f  %.0f", s.label, r[:caller], "#{r[:min].round}..#{r[:max].round}",
              r[:handover], r[:total], r[:wall])
end
puts "core stats of the datafile client: decisions=#{stats[:decisions]} exposures=#{stats[:exposures]} " \
     "skipped=#{stats[:skipped]} dropped_queue_full=#{stats[:dropped_queue_full]} " \
     "dropped_invalid=#{stats[:dropped_invalid]} listener_errors=#{stats[:listener_errors]}"
headline = results[:exposure]
puts format("RESULT ruby_listener_ns_per_call caller_median=%.0f caller_min=%.0f caller_max=%.0f total_median=%.0f " \
            "wall_median=%.0f goal=#{GOAL_NS} %s", headline[:caller], headline[:min], headline[:max], headline[:total],
            headline[:wall], headline[:caller] <= GOAL_NS ? "MET" : "NOT MET")

if options[:json]
  rounded = ->(x) { x.round(1) }
  measures = scenarios.select(&:summary_name).map do |s|
    r = results[s.key]
    note = format("the calling thread's CPU time; with the hand-over off that thread %.0f ns in all (median), " \
                  "wall %.0f ns", r[:total], r[:wall])
    m = { name: s.summary_name, unit: "ns", better: "lower" }
    if s.key == :exposure
      m.merge!(goal: "<= 1 µs", goal_value: GOAL_NS, goal_kind: "absolute", headline: "caller")
      note += format(". In the same run (thread CPU): on_decision, which hands over on the calling thread, %.0f ns; " \
                     "stdlib JSON of the 2 attributes %.0f ns; bare FFI call %.0f ns",
                     results[:now][:caller], results[:json][:caller], results[:ffi][:caller])
      if CURRENT
        note += format("; flagwire_on_decision_record through FFI with the record ready %.0f ns; the record's " \
                       "encoding %.0f ns", results[:direct][:caller], results[:encode][:caller])
      end
      note += format("; median of %d runs x %d calls, GVL yielded every %d calls, load average %s",
                     runs, calls, BURST, load || "?")
    end
    m.merge(flagwire: { median: rounded.(r[:caller]), min: rounded.(r[:min]), max: rounded.(r[:max]), samples: r[:samples] },
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
