# frozen_string_literal: true

require "test_helper"
require "time"

# The listener's hand-over off the SDK's thread (DecisionBatcher): decision time, bounds, fork,
# and the drainer thread's lifetime. Tests that must keep decisions pending hold the batcher's
# drain lock (nothing can be handed over meanwhile), so they depend on ordering, not on timing.
class TestHandover < FlagwireTest::Case
  def treatment
    flag(flag_key: "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment",
         experiment_id: "2001", variation_id: "5002")
  end

  def batcher(client)
    client.instance_variable_get(:@batcher)
  end

  def hold_hand_over(client, &block)
    batcher(client).instance_variable_get(:@drain_lock).synchronize(&block)
  end

  def now_ms
    Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
  end

  # The record carries the decision time (at_ms): the event's timestamp is when decide() ran,
  # not when the decision was handed over.
  def test_the_event_has_the_decision_time
    client = new_client
    decided_at = nil
    hold_hand_over(client) do
      before = now_ms
      assert_equal :queued, client.listener.call("flag", uid("t"), {}, treatment)
      decided_at = (before..now_ms)
      sleep 0.3 # what a late hand-over would show
      assert_equal 1, batcher(client).pending
    end
    event = delivered(client).first
    timestamp = (Time.iso8601(event.fetch("timestamp")).to_r * 1000).to_i
    assert_includes decided_at, timestamp
  end

  # When MAX_PENDING decisions wait (the drainer cannot get the GVL), the listener hands its
  # decision over itself: nothing is lost, nothing waits.
  def test_a_full_buffer_hands_over_on_the_calling_thread
    client = new_client(max_queue_events: 20_000)
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    max = Flagwire::DecisionBatcher::MAX_PENDING
    hold_hand_over(client) do
      max.times { |i| assert_equal :queued, client.listener.call("flag", uid("q#{i}"), {}, treatment) }
      assert_equal :ok, client.listener.call("flag", uid("direct"), {}, treatment)
      assert_equal max, batcher(client).pending
    end
    messages = delivered(client, timeout: 30)
    assert_equal max + 1, messages.size
    assert_unique_message_ids(messages)
    assert_equal 0, client.stats[:dropped_queue_full]
  end

  # A forked child does not hand over what its parent had pending: the parent does, once.
  def test_a_forked_child_drops_its_parents_pending_decisions
    client = new_client
    parent_users = Array.new(10) { |i| uid("parent-#{i}") }
    child_users = Array.new(5) { |i| uid("child-#{i}") }
    pid = nil
    hold_hand_over(client) do
      parent_users.each { |u| assert_equal :queued, client.listener.call("flag", u, {}, treatment) }
      pid = fork do
        code = 1
        begin
          raise "pending after fork: #{batcher(client).pending}" unless batcher(client).pending.zero?

          child_users.each { |u| raise "not queued" unless client.listener.call("flag", u, {}, treatment) == :queued }
          code = client.close(timeout: 10) == true ? 0 : 2
        rescue Exception => e # rubocop:disable Lint/RescueException
          warn "child failed: #{e.class}: #{e.message}"
        ensure
          exit!(code)
        end
      end
      assert_equal 10, batcher(client).pending
    end
    _, status = Process.wait2(pid)
    assert status.success?, "child exited with #{status.exitstatus}"
    messages = delivered(client)
    assert_equal (parent_users + child_users).sort, messages.map { |m| m["userId"] }.sort
    assert_unique_message_ids(messages)
  end

  # The drainer thread ends once decisions stop (the next one starts another), so it neither
  # lingers nor keeps a client from being garbage-collected for long.
  def test_the_drainer_ends_when_idle_and_comes_back
    client = new_client
    drainers = -> { Thread.list.select { |t| t.name == "flagwire-decisions" && t.alive? } }
    client.listener.call("flag", uid("1"), {}, treatment)
    assert_equal 1, drainers.call.size
    wait_until("the drainer ended", timeout: Flagwire::DecisionBatcher::IDLE + 10) { drainers.call.empty? }
    client.listener.call("flag", uid("2"), {}, treatment)
    assert_equal 1, drainers.call.size
    assert_equal [uid("1"), uid("2")], delivered(client).map { |m| m["userId"] }.sort
  end

  # A client dropped without close, after using the listener, is closed by its finalizer once its
  # drainer has ended, and its decisions are delivered.
  def test_an_abandoned_client_still_delivers_its_decisions
    use = 'c.listener.call("flag", id, {}, { flag_key: "f", rule_key: "r", variation_key: "v", enabled: true })'
    # Its drainer keeps it reachable until it ends (IDLE seconds after the decision).
    before, after = abandoned_clients(5, use, within: Flagwire::DecisionBatcher::IDLE + 15)
    assert_equal 5, before
    assert_operator after, :<, before, "no finalizer ran"
    assert_equal 5.times.map { |i| uid("gc-#{i}") }.sort, my_messages.map { |m| m["userId"] }.sort
  end
end
