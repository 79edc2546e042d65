# frozen_string_literal: true

# Shared test setup: the flagwire gem from lib/, one Segment-compatible test collector per test
# process (target/release/flagwire-collector, 127.0.0.1 only), and helpers that build DECISION
# notifications exactly as ruby-sdk 5.x sends them.

require "minitest/autorun"
require "json"
require "net/http"
require "securerandom"
require "tmpdir"
require "fileutils"
require "open3"
require "rbconfig"
require "flagwire"

module FlagwireTest
  REPO = File.expand_path("../../..", __dir__)
  LIB_DIR = File.expand_path("../lib", __dir__)
  DATA = File.join(REPO, "tests", "data")
  MINIMAL_DATAFILE = File.read(File.join(DATA, "minimal-datafile.json"))
  REPEATED_DATAFILE = File.read(File.join(DATA, "datafile-repeated-rule-keys.json"))
  WRITE_KEY = "test-write-key"

  # The test collector: started once per process, stopped by the process that started it.
  class Collector
    STARTUP_TIMEOUT = 15.0

    def self.instance
      @instance ||= new
    end

    attr_reader :url

    def initialize
      bin = ENV.fetch("FLAGWIRE_COLLECTOR") { File.join(REPO, "target", "release", "flagwire-collector") }
      raise "flagwire-collector not found at #{bin}; run `cargo build --release -p flagwire-collector`" unless File.executable?(bin)

      @dir = Dir.mktmpdir("flagwire-ruby-collector")
      out = File.join(@dir, "stdout")
      @owner = Process.pid
      # stdout goes to a file, so the collector can never block on a full pipe.
      @pid = Process.spawn(bin, "--port", "0", "--quiet", out: out, err: File.join(@dir, "stderr"))
      deadline = now + STARTUP_TIMEOUT
      until (line = File.exist?(out) && File.read(out).lines.first) && line.end_with?("\n")
        raise "flagwire-collector did not print its URL within #{STARTUP_TIMEOUT}s" if now > deadline

        sleep 0.02
      end
      @url = line.strip
      raise "unexpected first line from flagwire-collector: #{@url.inspect}" unless @url.start_with?("http://127.0.0.1:")

      Minitest.after_run { stop }
    end

    def stop
      return unless Process.pid == @owner && @pid

      Process.kill("TERM", @pid)
      Process.wait(@pid)
      @pid = nil
      FileUtils.rm_rf(@dir)
    rescue Errno::ESRCH, Errno::ECHILD
      @pid = nil
    end

    def messages
      get("/_test/messages").fetch("messages")
    end

    def requests
      get("/_test/requests").fetch("requests")
    end

    def reset
      post("/_test/reset", "{}")
    end

    def script(steps)
      post("/_test/script", JSON.generate({ steps: steps }))
    end

    def get_json(path)
      get(path)
    end

    def post_json(path, object)
      post(path, JSON.generate(object))
    end

    # Waits (bounded) until at least `count` messages were accepted.
    def wait_for(count, timeout: 10.0)
      get("/_test/wait?count=#{count}&timeout_ms=#{(timeout * 1000).round}")
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def http
      uri = URI(@url)
      Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 30) { |h| yield h }
    end

    def get(path)
      JSON.parse(http { |h| h.get(path).body })
    end

    def post(path, body)
      http { |h| h.post(path, body, "Content-Type" => "application/json").body }
    end
  end

  # Notifications as ruby-sdk 5.x sends them (lib/optimizely.rb): the 4th argument is a Hash with
  # Symbol keys, built from keyword arguments.
  module Notifications
    module_function

    # type "flag" (decide), create_optimizely_decision.
    def flag(flag_key:, rule_key:, variation_key:, enabled: true, dispatched: true,
             experiment_id: nil, variation_id: nil, variables: {}, reasons: [])
      {
        flag_key: flag_key, enabled: enabled, variables: variables, variation_key: variation_key,
        rule_key: rule_key, reasons: reasons, decision_event_dispatched: dispatched,
        experiment_id: experiment_id, variation_id: variation_id
      }
    end

    # type "feature" (is_feature_enabled); source_info is {} for rollouts.
    def feature(feature_key:, enabled:, source:, experiment_key: nil, variation_key: nil)
      source_info = experiment_key ? { experiment_key: experiment_key, variation_key: variation_key } : {}
      { feature_key: feature_key, feature_enabled: enabled, source: source, source_info: source_info }
    end

    # type "feature-variable" (get_feature_variable*).
    def feature_variable(feature_key:, enabled:, source:, experiment_key: nil, variation_key: nil)
      source_info = experiment_key ? { experiment_key: experiment_key, variation_key: variation_key } : {}
      { feature_key: feature_key, feature_enabled: enabled, source: source, variable_key: "button_color",
        variable_type: "string", variable_value: "gray", source_info: source_info }
    end

    # type "all-feature-variables" (get_all_feature_variables).
    def all_feature_variables(feature_key:, enabled:, source:, experiment_key: nil, variation_key: nil)
      source_info = experiment_key ? { experiment_key: experiment_key, variation_key: variation_key } : {}
      { feature_key: feature_key, feature_enabled: enabled, source: source,
        variable_values: { "button_color" => "gray" }, source_info: source_info }
    end

    # type "ab-test" / "feature-test" (activate, get_variation); variation_key nil when not bucketed.
    def experiment(experiment_key:, variation_key:)
      { experiment_key: experiment_key, variation_key: variation_key }
    end
  end

  class Case < Minitest::Test
    include Notifications

    def collector
      Collector.instance
    end

    def setup
      collector.reset
      @clients = []
      @run = SecureRandom.hex(4)
    end

    def teardown
      @clients.each { |c| c.close(timeout: 2.0) }
    end

    # A client pointed at the test collector; closed in teardown.
    def new_client(**options)
      defaults = { endpoint: collector.url, log_level: "off", flush_interval_ms: 50,
                   backoff_base_ms: 10, backoff_max_ms: 100 }
      client = Flagwire::Client.new(write_key: WRITE_KEY, **defaults.merge(options))
      @clients << client
      client
    end

    # Runs `ruby -I lib ARGS` in a new process, killed after `timeout` seconds (coreutils
    # timeout), so a hang fails the test instead of stalling the suite. [stdout, stderr, status]
    def ruby_process(*args, env: {}, timeout: 60)
      Open3.capture3(env, "timeout", "-k", "5", timeout.to_s, RbConfig.ruby, "-I", LIB_DIR, *args)
    end

    # Runs a script that makes `count` clients, uses each once (`use`: Ruby code with `c`, the
    # client, and `id`, a user id made of uid("gc") and the client's number) and drops it, then
    # collects garbage until a finalizer has closed a client or `within` seconds have passed.
    # Returns [clients open before, after]; at_exit closes the rest.
    def abandoned_clients(count, use, within:)
      script = <<~RUBY
        require "flagwire"
        def make(i)
          c = Flagwire::Client.new(write_key: "k", endpoint: ARGV[0], flush_interval_ms: 60_000, log_level: "off", close_timeout: 2)
          id = "\#{ARGV[1]}-\#{i}"
          #{use}
          nil
        end
        #{count}.times { |i| make(i) }
        before = Flagwire.open_clients
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + #{within}
        until Flagwire.open_clients < before || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          GC.start(full_mark: true, immediate_sweep: true)
          sleep 0.05
        end
        puts "\#{before} \#{Flagwire.open_clients}"
      RUBY
      out, err, status = ruby_process("-e", script, collector.url, uid("gc"))
      assert status.success?, err
      out.split.map(&:to_i)
    end

    # A user id unique to this test run.
    def uid(name)
      "#{@run}-#{name}"
    end

    # The Experiment Viewed / other messages the collector accepted for this test's users.
    def my_messages
      collector.messages.select { |m| (m["userId"] || m["anonymousId"]).to_s.start_with?(@run) }
    end

    def by_user(messages = my_messages)
      messages.group_by { |m| m["userId"] || m["anonymousId"] }
    end

    # Flushes the client and returns this test's messages.
    def delivered(client, timeout: 10.0)
      assert client.flush(timeout: timeout), "flush timed out"
      my_messages
    end

    # Polls the block until it is truthy; fails after `timeout` seconds.
    def wait_until(what, timeout: 10.0)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      until (value = yield)
        flunk "timed out after #{timeout}s waiting until #{what}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        sleep 0.01
      end
      value
    end

    def assert_unique_message_ids(messages)
      ids = messages.map { |m| m["messageId"] }
      dupes = ids.tally.select { |_, n| n > 1 }
      assert_empty dupes, "duplicate messageIds (#{dupes.size} of #{ids.size}); Segment drops duplicates"
    end
  end
end
