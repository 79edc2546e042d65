# frozen_string_literal: true

# Quickstart: send Optimizely experiment exposures to Segment as "Experiment Viewed" events.
#
# It follows the Optimizely -> Segment integration guides: (1) create the Optimizely client,
# (2) register a DECISION notification listener that sends an "Experiment Viewed" track call for
# experiment decisions only, (3) decide, (4) validate (debug logging prints each event),
# (5) flush and close on shutdown.
#
#   SEGMENT_WRITE_KEY=... ruby -Ilib examples/quickstart.rb
#   # or, against the local test collector:
#   ruby -Ilib examples/quickstart.rb --endpoint http://127.0.0.1:PORT
#
# With the optimizely-sdk gem installed the real SDK is used; otherwise a tiny stand-in that
# sends the same DECISION notifications (so the example runs anywhere).

require "flagwire"

endpoint = ARGV[ARGV.index("--endpoint") + 1] if ARGV.include?("--endpoint")
datafile = File.read(File.expand_path("../../../tests/data/minimal-datafile.json", __dir__))

# 1. The Optimizely client (offline, from a datafile; production code uses sdk_key: instead).
begin
  require "optimizely"
  optimizely = Optimizely::Project.new(
    datafile: datafile,
    event_dispatcher: Optimizely::NoOpEventDispatcher.new,
    settings: Optimizely::Helpers::OptimizelySdkSettings.new(disable_odp: true)
  )
rescue LoadError
  require_relative "../test/fake_optimizely"
  warn "quickstart: the optimizely-sdk gem is not installed; using the stand-in from test/fake_optimizely.rb"
  optimizely = FakeOptimizely::Project.new(datafile: datafile)
end

# 2. The flagwire client and the DECISION listener. attach registers the listener and a config
#    update listener that keeps the datafile current (it tells experiments from rollouts per flag).
flagwire = Flagwire::Client.new(
  write_key: ENV.fetch("SEGMENT_WRITE_KEY", "demo-write-key"),
  endpoint: endpoint || "https://api.segment.io", # EU: https://events.eu1.segmentapis.com
  log_level: "debug" # 4. validation: logs each batch as sent, messageIds included; "warn" in production
  # logger: Rails.logger,  # where the lines go; default a Logger on $stderr
)
flagwire.attach(optimizely) # attach once: a second listener would double every event

# 3. Decide as usual. Experiment decisions become "Experiment Viewed"; rollouts do not.
%w[user0 user1 user2 user3 user4 user5].each do |user_id|
  if optimizely.respond_to?(:create_user_context)
    decision = optimizely.create_user_context(user_id, { "plan" => "pro" }).decide("checkout_flow")
    puts "#{user_id}: #{decision.rule_key}/#{decision.variation_key}"
  else # the stand-in does no bucketing: alternate experiment and rollout
    rule, variation = user_id.end_with?("0", "2", "4") ? %w[checkout_ab treatment] : %w[checkout_delivery on]
    optimizely.decide(user_id, "checkout_flow", rule_key: rule, variation_key: variation, attributes: { "plan" => "pro" })
    puts "#{user_id}: #{rule}/#{variation}"
  end
end

# Conversion events and traits go through the same queue.
flagwire.enqueue({ type: "track", userId: "user0", event: "Order Completed", properties: { revenue: 42.0 } })

# 5. On shutdown: deliver what is queued. (at_exit would do it too; Puma/Unicorn workers can
#    call it from their shutdown hooks. Forked workers need nothing: each sends its own events.)
puts "delivered: #{flagwire.flush(timeout: 5)}"
puts "stats: #{flagwire.stats}"
flagwire.close
