# frozen_string_literal: true

require "test_helper"

# Threads, close, at_exit and the GC finalizer.
class TestLifecycle < FlagwireTest::Case
  def treatment
    flag(flag_key: "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment",
         experiment_id: "2001", variation_id: "5002")
  end

  def test_many_ruby_threads_at_once
    client = new_client(batch_size: 50)
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    listener = client.listener
    threads = 8
    per_thread = 250
    statuses = Array.new(threads)
    workers = Array.new(threads) do |t|
      Thread.new do
        statuses[t] = Array.new(per_thread) do |i|
          listener.call("flag", uid("t#{t}-#{i}"), { "thread" => t }, treatment)
        end
      end
    end
    # Stats, flushes and enqueues from another thread meanwhile.
    side = Thread.new do
      20.times do |i|
        client.stats
        client.enqueue({ type: "track", userId: uid("side-#{i}"), event: "Side" })
        client.flush(timeout: 0.01)
      end
    end
    (workers + [side]).each { |w| assert w.join(60), "thread did not finish" }
    assert(statuses.flatten.all?(:queued))

    messages = delivered(client, timeout: 30)
    assert_equal threads * per_thread + 20, messages.size
    assert_unique_message_ids(messages)
    expected = (0...threads).flat_map { |t| (0...per_thread).map { |i| uid("t#{t}-#{i}") } }
    assert_equal expected.sort, messages.select { |m| m["event"] == "Experiment Viewed" }.map { |m| m["userId"] }.sort
    stats = client.stats
    assert_equal stats[:enqueued], stats[:delivered]
    assert_equal 0, stats[:failed]
  end

  def test_close_twice_is_safe_and_returns_nil_the_second_time
    client = new_client
    client.listener.call("flag", uid("1"), {}, treatment)
    assert_equal true, client.close
    assert_nil client.close
    assert_nil client.close(timeout: 0)
    assert client.closed?
    assert_equal [uid("1")], my_messages.map { |m| m["userId"] }
  end

  def test_a_client_cannot_be_copied
    client = new_client
    assert_raises(TypeError) { client.dup }
    assert_raises(TypeError) { client.clone }
  end

  def test_calls_after_close_raise_closed_error
    client = new_client
    client.close
    assert_raises(Flagwire::ClosedError) { client.flush }
    assert_raises(Flagwire::ClosedError) { client.stats }
    assert_raises(Flagwire::ClosedError) { client.last_error }
    assert_raises(Flagwire::ClosedError) { client.enqueue({ type: "track", userId: "u", event: "E" }) }
    assert_raises(Flagwire::ClosedError) { client.set_datafile(FlagwireTest::MINIMAL_DATAFILE) }
    error = assert_raises(Flagwire::ClosedError) { client.flush }
    assert_equal :closed, error.status_name
    assert_match(/closed/, client.inspect)
  end

  def test_close_while_threads_are_calling
    client = new_client
    listener = client.listener
    started = Queue.new
    results = Array.new(4) { [] }
    workers = Array.new(4) do |t|
      Thread.new do
        started << true
        2_000.times { |i| results[t] << listener.call("flag", uid("c#{t}-#{i}"), {}, treatment) }
      end
    end
    flusher = Thread.new do
      50.times do
        client.flush(timeout: 0.05)
      rescue Flagwire::ClosedError
        break
      end
    end
    4.times { started.pop }
    closers = Array.new(3) { Thread.new { client.close(timeout: 5) } }
    outcomes = capture_io { closers.map(&:value) }
    [*workers, flusher].each { |w| assert w.join(60) }
    closed_by = closers.map(&:value)
    assert_equal 1, closed_by.count { |v| !v.nil? }, "exactly one close did the work: #{closed_by.inspect} #{outcomes}"
    all = results.flatten
    assert(all.all? { |s| s.nil? || s == :queued })
    # Every decision the listener took before close was handed over and delivered, once.
    queued = all.count(:queued)
    messages = my_messages
    assert_equal queued, messages.size
    assert_unique_message_ids(messages)
  end

  def test_flush_does_not_hold_other_threads
    collector.script([{ status: 200, delay_ms: 3000 }])
    client = new_client(flush_interval_ms: 10)
    client.enqueue({ type: "track", userId: uid("slow"), event: "E" })
    flusher = Thread.new { client.flush(timeout: 10) }
    native = client.instance_variable_get(:@native)
    500.times { break if native.instance_variable_get(:@waiting_calls).positive?; sleep 0.01 } # bounded: 5 s
    assert_equal 1, native.instance_variable_get(:@waiting_calls), "the flusher is waiting in the library"
    50.times { |i| client.listener.call("flag", uid("meanwhile-#{i}"), {}, treatment) }
    client.stats
    # Ordering, not timing: these ran while the flush still waited for the slow request.
    assert flusher.alive?, "decisions waited for the flush"
    assert flusher.value
  end

  def test_at_exit_closes_open_clients_and_delivers
    script = <<~RUBY
      require "flagwire"
      c = Flagwire::Client.new(write_key: "k", endpoint: ARGV[0], flush_interval_ms: 60_000, log_level: "off")
      c.listener.call("flag", ARGV[1], {}, { flag_key: "checkout_flow", rule_key: "checkout_ab",
        variation_key: "control", enabled: false, decision_event_dispatched: true, experiment_id: "2001", variation_id: "5001" })
      # no close: at_exit must flush and close it
    RUBY
    _out, err, status = ruby_process("-e", script, collector.url, uid("exit"))
    assert status.success?, err
    assert_equal [uid("exit")], my_messages.map { |m| m["userId"] }
  end

  def test_garbage_collected_clients_are_closed_by_their_finalizer
    before, after = abandoned_clients(20, 'c.enqueue({ type: "track", userId: id, event: "GC" })', within: 0.5)
    assert_equal 20, before
    assert_operator after, :<, before, "no finalizer ran"
    # Finalized or closed at exit: every event is delivered once.
    assert_equal 20, my_messages.size
    assert_unique_message_ids(my_messages)
  end

  def test_close_from_a_signal_trap
    client = new_client
    client.listener.call("flag", uid("trap"), {}, treatment)
    result = Queue.new
    previous = trap("USR2") { result << client.close(timeout: 5) }
    Process.kill("USR2", Process.pid)
    1000.times { break unless result.empty?; sleep 0.01 } # bounded: 10 s
    assert_equal true, result.pop(true)
    assert_equal [uid("trap")], my_messages.map { |m| m["userId"] }
  ensure
    trap("USR2", previous || "DEFAULT")
  end
end
