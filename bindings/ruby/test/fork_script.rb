# frozen_string_literal: true

# Run by test_fork.rb as `ruby -Ilib test/fork_script.rb COLLECTOR_URL RUN_ID [LOG_PATH]`: a
# pre-forking server in miniature. The parent queues decisions, forks three workers that each
# send their own and exit normally (no close: at_exit closes their client), queues a few more,
# and exits normally too (at_exit closes it). Prints every user id that must arrive exactly once.
# With LOG_PATH, every process logs at debug level into a Logger on that file.

require "flagwire"

url, run, log_path = ARGV
logging = log_path ? { log_level: "debug", logger: Logger.new(log_path) } : { log_level: "off" }
client = Flagwire::Client.new(write_key: "k", endpoint: url, flush_interval_ms: 60_000, **logging)
info = { flag_key: "checkout_flow", enabled: true, variables: {}, variation_key: "treatment",
         rule_key: "checkout_ab", reasons: [], decision_event_dispatched: true,
         experiment_id: "2001", variation_id: "5002" }
expected = []
decide = lambda do |user|
  raise "not queued: #{user}" unless client.listener.call("flag", user, { "pid" => Process.pid }, info) == :queued

  expected << user
end

5.times { |i| decide.call("#{run}-parent-before-#{i}") }
client.enqueue({ type: "track", userId: "#{run}-parent-track-before", event: "Parent" })
expected << "#{run}-parent-track-before"
children = Array.new(3) do |w|
  fork do
    10.times { |i| decide.call("#{run}-worker#{w}-#{i}") }
    # A message made on the caller's thread too (its messageId is generated there).
    client.enqueue({ type: "track", userId: "#{run}-worker#{w}-track", event: "Worker" })
    exit 0 # at_exit closes the client: this worker's events are delivered by this worker
  end
end
worker_users = Array.new(3) { |w| Array.new(10) { |i| "#{run}-worker#{w}-#{i}" } + ["#{run}-worker#{w}-track"] }.flatten
5.times { |i| decide.call("#{run}-parent-after-#{i}") }
client.enqueue({ type: "track", userId: "#{run}-parent-track", event: "Parent" })
expected << "#{run}-parent-track"
children.each do |pid|
  _, status = Process.wait2(pid)
  raise "worker #{pid} failed: #{status.inspect}" unless status.success?
end
puts expected + worker_users
# The parent exits without close: at_exit delivers its 10 events.
