# frozen_string_literal: true

require "test_helper"

# Pre-forking servers (Puma, Unicorn, Resque): after Process.fork the child's events are sent by
# the child and the parent's by the parent, once, with nothing for the user to call.
class TestFork < FlagwireTest::Case
  def treatment
    flag(flag_key: "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment",
         experiment_id: "2001", variation_id: "5002")
  end

  def wait_child(pid, timeout: 30)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      _, status = Process.wait2(pid, Process::WNOHANG)
      return status if status

      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        Process.kill("KILL", pid)
        Process.wait(pid)
        flunk "child #{pid} did not exit within #{timeout}s"
      end
      sleep 0.02
    end
  end

  # Parent queues decisions, forks; the child sends its own and closes; the parent sends more
  # and flushes. Returns [expected user ids, delivered messages, parent stats].
  def fork_scenario
    # A long flush interval: the parent's events are still queued when it forks.
    client = new_client(flush_interval_ms: 60_000)
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    listener = client.listener
    parent_before = Array.new(10) { |i| uid("parent-before-#{i}") }
    parent_before.each { |u| assert_equal :queued, listener.call("flag", u, {}, treatment) }
    # One made on this thread before the fork: any per-thread id generator is now in use.
    parent_before << uid("parent-track-before")
    assert client.enqueue({ type: "track", userId: parent_before.last, event: "E" })

    child_users = Array.new(15) { |i| uid("child-#{i}") }
    # Segment messages made on the caller's thread (enqueue) as well as exposures.
    child_tracks = Array.new(5) { |i| uid("child-track-#{i}") }
    parent_tracks = Array.new(5) { |i| uid("parent-track-#{i}") }
    pid = fork do
      code = 1
      begin
        child_users.each { |u| raise "not queued: #{u}" unless listener.call("flag", u, {}, treatment) == :queued }
        child_tracks.each { |u| raise "not queued: #{u}" unless client.enqueue({ type: "track", userId: u, event: "E" }) }
        stats = client.stats
        raise "child stats are not fresh: #{stats}" unless stats[:enqueued] == child_users.size + child_tracks.size

        code = client.close(timeout: 10) == true ? 0 : 2
      rescue Exception => e # rubocop:disable Lint/RescueException
        warn "child failed: #{e.class}: #{e.message}"
      ensure
        exit!(code) # no at_exit in the child: minitest's would run the suite again
      end
    end

    parent_after = Array.new(5) { |i| uid("parent-after-#{i}") }
    parent_after.each { |u| assert_equal :queued, listener.call("flag", u, {}, treatment) }
    parent_tracks.each { |u| assert client.enqueue({ type: "track", userId: u, event: "E" }) }
    status = wait_child(pid)
    assert status.success?, "child exited with #{status.exitstatus}"
    assert client.flush(timeout: 10)
    [parent_before + parent_after + parent_tracks + child_users + child_tracks, my_messages, client.stats]
  end

  def test_parent_and_child_each_deliver_their_own_events_once
    expected, messages, stats = fork_scenario
    assert_equal expected.sort, messages.map { |m| m["userId"] }.sort, "every event once"
    assert_equal 21, stats[:enqueued]
    assert_equal stats[:enqueued], stats[:delivered]
  end

  def test_message_ids_stay_unique_across_fork
    _expected, messages, = fork_scenario
    # Segment de-duplicates on messageId: a child repeating its parent's ids loses those events.
    assert_unique_message_ids(messages)
  end

  # The log callback in a forked child: the child's sender thread is a native thread created
  # after fork, whose lines go through the ffi gem's callback dispatcher, which ffi < 1.17.1 does
  # not restart in the child (the binding's fork hook does). Without it the child hangs in close.
  def test_a_forked_childs_log_lines_reach_its_logger_and_it_exits
    Dir.mktmpdir do |dir|
      log = File.join(dir, "flagwire.log")
      client = new_client(log_level: "debug", logger: Logger.new(log), flush_interval_ms: 60_000)
      client.listener.call("flag", uid("parent"), {}, treatment)
      assert client.flush(timeout: 10) # the parent's sender has logged through the callback
      child_user = uid("child")
      pid = fork do
        code = 1
        begin
          raise "not queued" unless client.listener.call("flag", child_user, {}, treatment) == :queued

          code = client.close(timeout: 10) == true ? 0 : 2
        ensure
          exit!(code)
        end
      end
      status = wait_child(pid, timeout: 20)
      assert status.success?, "child exited with #{status.exitstatus}"
      child_lines = File.readlines(log).select { |l| l.include?("##{pid}]") }
      assert(child_lines.any? { |l| l.include?("DEBUG -- flagwire: event: ") && l.include?(child_user) }, child_lines.join)
      assert_equal [uid("child"), uid("parent")], my_messages.map { |m| m["userId"] }.sort
    end
  end

  def test_forked_children_close_through_at_exit
    Dir.mktmpdir do |dir|
      log = File.join(dir, "flagwire.log")
      script = File.expand_path("fork_script.rb", __dir__)
      out, err, status = ruby_process(script, collector.url, @run, log)
      assert status.success?, "#{out}\n#{err}"
      expected = out.split
      assert_equal 3 * 11 + 2 * 5 + 2, expected.size
      assert_equal expected.sort, my_messages.map { |m| m["userId"] }.sort
      # Each worker (and the parent) logged its own delivery into its Logger, at exit.
      senders = File.readlines(log).grep(/DEBUG -- flagwire: event: /).map { |l| l[/#(\d+)\]/, 1] }.uniq
      assert_equal 4, senders.size, File.read(log)
    end
  end

  def test_forked_children_message_ids_are_unique
    script = File.expand_path("fork_script.rb", __dir__)
    out, err, status = ruby_process(script, collector.url, @run)
    assert status.success?, "#{out}\n#{err}"
    assert_unique_message_ids(my_messages)
  end
end
