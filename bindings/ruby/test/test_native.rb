# frozen_string_literal: true

require "test_helper"

# Loading, the ABI handshake, owned strings, config and status handling.
class TestNative < FlagwireTest::Case
  def test_versions
    assert_equal "0.2.0", Flagwire.version
    assert_equal Flagwire::ABI_VERSION, Flagwire.abi_version
    assert File.file?(Flagwire.library_path)
  end

  def test_library_path_is_relative_to_the_gem_or_from_the_environment
    candidates = Flagwire::Native.candidates
    if ENV["FLAGWIRE_LIB"]
      assert_equal [ENV["FLAGWIRE_LIB"]], candidates
    else
      # A checkout carries no library: the Rust release build is the only place looked in.
      assert_empty Flagwire::Native.bundled_platforms
      assert_equal [File.expand_path("../../../target/release/libflagwire.so", FlagwireTest::LIB_DIR)], candidates
    end
    assert_includes candidates, Flagwire.library_path
  end

  # A platform gem's layout (lib/flagwire/native/<platform>/, as package.sh builds it), in a copy
  # of lib/: its own platform's library is loaded from inside the gem, never target/release.
  def test_a_platform_gem_loads_the_library_it_carries
    with_gem_layout(local_platform) do |lib|
      out, err, status = ruby_with_lib(lib, 'require "flagwire"; print Flagwire.library_path, " ", Flagwire.version')
      assert status.success?, err
      assert_equal "#{lib}/flagwire/native/#{local_platform}/libflagwire.so #{Flagwire.version}", out
    end
  end

  # A gem carrying another platform's library refuses to load and says how to get one.
  def test_a_platform_gem_for_another_platform_refuses_to_load_saying_how_to_build_a_library
    other = local_platform.start_with?("x86_64") ? "aarch64-linux" : "x86_64-linux"
    with_gem_layout(other) do |lib|
      _out, err, status = ruby_with_lib(lib, 'require "flagwire"')
      refute status.success?
      assert_match(/Flagwire::LibraryError/, err)
      assert_match(/carries libflagwire for #{other} only, and this Ruby runs on #{Regexp.escape(Gem::Platform.local.to_s)}/, err)
      assert_match(/cargo build --release -p flagwire/, err)
      assert_match(/FLAGWIRE_LIB/, err)
    end
  end

  def test_flagwire_lib_override_that_does_not_exist_fails_with_a_clear_error
    _out, err, status = ruby_process("-e", 'require "flagwire"', env: { "FLAGWIRE_LIB" => "/nonexistent/libflagwire.so" })
    refute status.success?
    assert_match(/Flagwire::LibraryError/, err)
    assert_match(%r{/nonexistent/libflagwire\.so}, err)
    assert_match(/FLAGWIRE_LIB/, err)
  end

  def test_abi_mismatch_is_refused_with_a_clear_message
    Flagwire::Native.verify_abi!(Flagwire::ABI_VERSION) # no error
    error = assert_raises(Flagwire::LibraryError) { Flagwire::Native.verify_abi!(Flagwire::ABI_VERSION + 1) }
    assert_kind_of Flagwire::Error, error
    assert_match(/ABI mismatch/, error.message)
    assert_match(/ABI version #{Flagwire::ABI_VERSION + 1}/, error.message)
    assert_match(/needs ABI version #{Flagwire::ABI_VERSION}/, error.message)
  end

  # The binding keeps no list of config keys: the core validates them and names the unknown one.
  def test_unknown_keyword_is_refused_by_the_core_naming_it
    error = assert_raises(Flagwire::ConfigError) { Flagwire::Client.new(write_key: "secret-key-123", batchsize: 10) }
    assert_equal Flagwire::Status::INVALID_CONFIG, error.status
    assert_match(/`batchsize`/, error.message)
    refute_match(/secret-key-123/, error.message)
    assert_equal 0, Flagwire.open_clients - @clients.size
  end

  def test_refused_config_raises_config_error_naming_the_key_without_the_write_key
    error = assert_raises(Flagwire::ConfigError) { Flagwire::Client.new(write_key: "secret-key-123", batch_size: 0) }
    assert_equal Flagwire::Status::INVALID_CONFIG, error.status
    assert_equal :invalid_config, error.status_name
    assert_match(/batch_size/, error.message)
    refute_match(/secret-key-123/, error.message)

    error = assert_raises(Flagwire::ConfigError) { Flagwire::Client.new(write_key: "secret-key-123", endpoint: "ftp://x") }
    assert_match(/endpoint/, error.message)

    error = assert_raises(Flagwire::ConfigError) { Flagwire::Client.new(write_key: nil) }
    assert_match(/write_key/, error.message)

    # Values of the wrong type and unknown enum values name their key too.
    { gzip: "yes", property_style: "nope", user_id_field: "uid", log_level: "loud", batch_size: "10" }.each do |key, value|
      error = assert_raises(Flagwire::ConfigError) { Flagwire::Client.new(write_key: "secret-key-123", key => value) }
      assert_equal Flagwire::Status::INVALID_CONFIG, error.status
      assert_match(/`#{key}`/, error.message)
      refute_match(/secret-key-123/, error.message)
    end
    error = assert_raises(Flagwire::ConfigError) { Flagwire::Client.new(write_key: 7) }
    assert_match(/`write_key`/, error.message)
  end

  def test_every_core_option_is_accepted
    client = new_client(
      batch_size: 10, flush_interval_ms: 100, max_queue_events: 100, max_queue_bytes: 1_000_000,
      max_retries: 2, backoff_base_ms: 10, backoff_max_ms: 20, request_timeout_ms: 1000, gzip: false,
      event_name: "Experiment Viewed", property_style: :both, include_attributes: true,
      include_rollouts: false, user_id_field: "userId", honor_disable_decision_event: true,
      allow_insecure_http: false, proxy: nil, ca_certs_pem: nil, log_level: :off, close_timeout: 1.0,
      logger: Logger.new(nil)
    )
    refute client.closed?
  end

  def test_stats_are_a_hash_with_symbol_keys
    client = new_client
    stats = client.stats
    %i[decisions exposures skipped enqueued dropped_queue_full dropped_invalid dropped_too_large delivered
       failed retries batches bytes_sent queue_depth listener_errors].each do |key|
      assert_kind_of Integer, stats.fetch(key), key.to_s
    end
  end

  def test_owned_strings_are_read_as_utf8_and_freed
    client = new_client
    assert_nil client.last_error
    error = assert_raises(Flagwire::InvalidInputError) { client.enqueue({ type: "track", userId: "u" }) } # no event
    message = client.last_error
    assert_equal Encoding::UTF_8, message.encoding
    assert message.valid_encoding?
    assert_includes error.message, message # the call's own out_error, in the exception
    # Many round trips: each string is freed by flagwire_string_free (a leak or a double free
    # would show under valgrind / ASan; here it must simply keep working).
    5_000.times { client.stats }
    5_000.times { assert_raises(Flagwire::InvalidInputError) { client.enqueue("{") } }
    assert_equal Encoding::UTF_8, Flagwire::Native.take_string(Flagwire::Native.flagwire_stats(ptr_of(client))).encoding
    assert_nil Flagwire::Native.take_string(FFI::Pointer::NULL)
  end

  def test_status_check_maps_statuses_to_errors
    assert_equal 0, Flagwire::Native.check(0, "x")
    assert_equal 1, Flagwire::Native.check(1, "x")
    assert_raises(Flagwire::ClosedError) { Flagwire::Native.check(8, "x") }
    assert_raises(Flagwire::InvalidInputError) { Flagwire::Native.check(4, "x", detail: "bad") }
    assert_raises(Flagwire::InvalidInputError) { Flagwire::Native.check(13, "x", detail: "record") }
    error = assert_raises(Flagwire::InternalError) { Flagwire::Native.check(10, "x", detail: "boom") }
    assert_equal "flagwire: x: panic: boom", error.message
    assert_equal :panic, error.status_name
  end

  # The binding's tables of the C enums are the header's (include/flagwire.h), number for number.
  def test_status_and_enum_tables_match_the_header
    header = File.read(File.join(FlagwireTest::REPO, "include", "flagwire.h"))
    from_header = lambda do |prefix|
      header.scan(/^\s*FLAGWIRE_#{prefix}_(\w+) = (\d+),/).to_h { |name, n| [name.to_sym, Integer(n)] }
    end
    table = lambda do |mod|
      mod.constants.to_h { |c| [c, mod.const_get(c)] }.select { |_, v| v.is_a?(Integer) }
    end
    statuses = from_header.call("STATUS")
    assert_operator statuses.size, :>=, 14
    assert_equal statuses, table.call(Flagwire::Status)
    assert_equal from_header.call("LOG_LEVEL"), table.call(Flagwire::Native::LogLevel)
    assert_equal from_header.call("PROFILE_FIELD"), table.call(Flagwire::Native::ProfileField)
    assert_equal Flagwire::ABI_VERSION, Integer(header[/#define FLAGWIRE_ABI_VERSION (\d+)/, 1])
    # Every status has its Symbol and maps to an error class or to success.
    statuses.each_value { |n| refute_match(/unknown/, Flagwire::Status.to_sym(n).to_s) }
  end

  # Only ABI 2 functions are attached: none of those the header marks deprecated (ABI 1).
  def test_no_deprecated_function_is_attached
    header = File.read(File.join(FlagwireTest::REPO, "include", "flagwire.h"))
    deprecated = header.scan(/^FLAGWIRE_DEPRECATED\(.*\)\n.*?\b(flagwire_\w+)\(/).flatten
    assert_includes deprecated, "flagwire_on_flag_decision"
    assert_includes deprecated, "flagwire_last_error"
    assert_operator deprecated.size, :>=, 7
    deprecated.each { |name| refute Flagwire::Native.respond_to?(name), "#{name} is attached" }
    source = Dir[File.join(FlagwireTest::LIB_DIR, "**", "*.rb")].map { |f| File.read(f) }.join
    deprecated.each { |name| refute_match(/\b#{name}\b/, source, "#{name} is used") }
  end

  def test_enqueue_any_segment_message
    client = new_client
    assert client.enqueue({ type: "identify", userId: uid("a"), traits: { plan: "pro" } })
    assert client.enqueue(JSON.generate({ type: "track", userId: uid("b"), event: "Order Completed" }))
    error = assert_raises(Flagwire::InvalidInputError) { client.enqueue({ type: "nope", userId: uid("c") }) }
    assert_equal Flagwire::Status::INVALID_JSON, error.status
    assert_raises(Flagwire::InvalidInputError) { client.enqueue("{not json") }
    messages = delivered(client)
    assert_equal %w[identify track], messages.map { |m| m["type"] }.sort
    assert(messages.all? { |m| m["messageId"] && m["timestamp"] && m.dig("context", "library", "name") == "flagwire" })
  end

  def test_too_large_and_queue_full_return_false_and_are_counted
    # max_queue_events bounds every event held, the request in flight included. Park the sender
    # first, deterministically: it takes one event and blocks in a request the collector holds
    # open (one request at a time); from then on nothing leaves until close.
    collector.script([{ hang: true }])
    client = new_client(max_queue_events: 3, max_in_flight: 1, flush_interval_ms: 60_000, request_timeout_ms: 60_000,
                        max_retries: 0, close_timeout: 0.5)
    assert client.enqueue({ type: "track", userId: uid("parked"), event: "E" })
    refute client.flush(timeout: 0) # wakes the sender (and times out at once)
    wait_until("the sender's request reached the collector") { collector.requests.any? { |r| r["path"] == "/v1/batch" } }

    assert client.enqueue({ type: "track", userId: uid("1"), event: "E" })
    refute client.enqueue({ type: "track", userId: uid("2"), event: "E", properties: { blob: "x" * 40_000 } })
    assert client.enqueue({ type: "track", userId: uid("3"), event: "E" })
    refute client.enqueue({ type: "track", userId: uid("4"), event: "E" })
    stats = client.stats
    assert_equal 1, stats[:dropped_too_large]
    assert_equal 1, stats[:dropped_queue_full]
    assert_equal 3, stats[:enqueued] # the parked one, 1 and 3
    assert_equal 0, stats[:delivered]
    refute client.close(timeout: 0.2) # the request still hangs: deadline passed
  end

  def test_flush_times_out_while_the_collector_hangs_and_keeps_the_events
    collector.script([{ status: 200, delay_ms: 1500 }])
    client = new_client(flush_interval_ms: 10)
    client.enqueue({ type: "track", userId: uid("slow"), event: "E" })
    refute client.flush(timeout: 0.2) # TIMEOUT while the request is still being answered
    assert_empty my_messages
    assert client.flush(timeout: 10)
    assert_equal 1, my_messages.size
  end

  def test_timeouts_are_validated
    client = new_client
    assert_raises(ArgumentError) { client.flush(timeout: -1) }
    assert_raises(ArgumentError) { client.flush(timeout: "1") }
    assert_raises(ArgumentError) { Flagwire::Client.new(write_key: "k", close_timeout: nil) }
  end

  private

  def ptr_of(client)
    client.instance_variable_get(:@native).instance_variable_get(:@ptr)
  end

  def local_platform
    l = Gem::Platform.local
    [l.cpu, l.os, (l.version if l.os == "linux")].compact.join("-")
  end

  # Runs code in a Ruby that loads flagwire from lib (not this checkout's), FLAGWIRE_LIB unset.
  def ruby_with_lib(lib, code)
    Open3.capture3({ "FLAGWIRE_LIB" => nil }, "timeout", "-k", "5", "60", RbConfig.ruby, "-I", lib, "-e", code)
  end

  # Copies lib/ to a temporary directory with the real library under native/<platform>/.
  def with_gem_layout(platform)
    Dir.mktmpdir("flagwire-gem-layout") do |dir|
      lib = File.join(dir, "lib")
      FileUtils.cp_r(FlagwireTest::LIB_DIR, lib)
      native = File.join(lib, "flagwire", "native", platform)
      FileUtils.mkdir_p(native)
      FileUtils.cp(Flagwire.library_path, native)
      yield lib
    end
  end
end
