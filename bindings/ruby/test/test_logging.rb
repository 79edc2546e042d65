# frozen_string_literal: true

require "test_helper"
require "logger"
require "stringio"

# The core's log lines (docs/design.md §2.4) reach a Ruby Logger: from flagwire's own threads
# (the sender's, through the ffi gem's callback dispatcher) and from calls made on Ruby threads.
class TestLogging < FlagwireTest::Case
  # A Logger that keeps its lines, with the thread each arrived on. Logger is thread-safe.
  class RecordingLogger < Logger
    attr_reader :lines

    def initialize(level = Logger::DEBUG)
      super(nil, level: level)
      @lines = Queue.new
    end

    def add(severity, message = nil, progname = nil)
      return true if severity < level

      @lines << { severity: severity, message: message, progname: progname, thread: Thread.current }
      true
    end

    def all
      Array.new(@lines.size) { @lines.pop(true) }
    end
  end

  def treatment
    flag(flag_key: "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment",
         experiment_id: "2001", variation_id: "5002")
  end

  def test_a_debug_line_with_the_delivered_message_id_reaches_the_logger
    logger = RecordingLogger.new
    client = new_client(log_level: "debug", logger: logger)
    assert_equal :queued, client.listener.call("flag", uid("logged"), {}, treatment)
    event = delivered(client).first
    message_id = event.fetch("messageId")
    lines = logger.all
    sent = lines.find { |l| l[:severity] == Logger::DEBUG && l[:message].include?(message_id) }
    assert sent, "no debug line with messageId #{message_id} in #{lines.map { |l| l[:message] }}"
    assert_equal "flagwire", sent[:progname]
    assert_includes sent[:message], uid("logged")
    assert_equal Encoding::UTF_8, sent[:message].encoding
    refute_same Thread.main, sent[:thread], "the sender's line ran on ffi's callback thread"
  end

  def test_levels_map_and_the_config_level_filters
    logger = RecordingLogger.new
    # Nothing listens on port 9: the batch fails and the sender logs it at error level.
    client = new_client(endpoint: "http://127.0.0.1:9", max_retries: 0, log_level: "error", logger: logger)
    client.enqueue({ type: "track", userId: uid("lost"), event: "E" })
    client.flush(timeout: 10)
    lines = logger.all
    refute_empty lines
    assert(lines.all? { |l| l[:severity] == Logger::ERROR }, lines.inspect) # no debug line at "error"
    assert(lines.any? { |l| l[:message].include?("failed") }, lines.inspect)
  end

  # A line logged during a call made from Ruby (the Profile API's warning, on the caller's thread
  # while the GVL is released) arrives too.
  def test_a_line_logged_on_the_callers_thread_arrives
    logger = RecordingLogger.new(Logger::WARN)
    client = new_client(logger: logger, log_level: "warn",
                        profile: { space_id: "s", access_token: "t", endpoint: "http://127.0.0.1:9", timeout_ms: 500 })
    assert_nil client.profile_attributes(user_id: uid("nobody"))
    line = logger.all.find { |l| l[:message].include?("profile") }
    assert line, "no profile warning"
    assert_equal Logger::WARN, line[:severity]
    assert_same Thread.current, line[:thread]
  end

  def test_a_failing_logger_changes_nothing_else
    failing = Object.new
    def failing.add(*)
      raise IOError, "disk full"
    end
    client = new_client(log_level: "debug", logger: failing)
    _out, err = capture_subprocess_io do
      10.times { |i| assert_equal :queued, client.listener.call("flag", uid("f#{i}"), {}, treatment) }
      assert_equal 10, delivered(client).size
    end
    assert_match(/flagwire: event: /, err) # the line went to stderr instead
    assert_equal 0, client.stats[:listener_errors]
  end

  def test_logger_must_respond_to_add
    assert_raises(ArgumentError) { Flagwire::Client.new(write_key: "k", logger: $stderr) }
  end

  def test_the_default_logger_writes_to_stderr_at_the_configured_level
    script = <<~RUBY
      require "flagwire"
      c = Flagwire::Client.new(write_key: "k", endpoint: "http://127.0.0.1:9", max_retries: 0, log_level: ARGV[0])
      c.enqueue({ type: "track", userId: "u", event: "E" })
      c.close(timeout: 10)
    RUBY
    _out, err, status = ruby_process("-e", script, "debug")
    assert status.success?, err
    assert_match(/^D, .* DEBUG -- flagwire: event: .*"userId":"u"/, err)
    assert_match(/^E, .* ERROR -- flagwire: batch of 1 events failed/, err)
    _out, err, status = ruby_process("-e", script, "off")
    assert status.success?, err
    assert_empty err
  end
end
