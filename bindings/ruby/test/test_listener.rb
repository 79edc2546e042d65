# frozen_string_literal: true

require "test_helper"

# The DECISION listener driven with notifications shaped exactly as ruby-sdk 5.x sends them:
# `listener.call(type, user_id, attributes, decision_info)` with Symbol keys. The listener hands
# flag decisions over off the calling thread (:queued); Client#on_decision, same arguments, hands
# them over at once and returns the core's answer (:ok, :skipped, ...), which is what the tests
# asserting per-decision outcomes call.
class TestListener < FlagwireTest::Case
  CHECKOUT_TREATMENT = { flag_key: "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment",
                         enabled: true, experiment_id: "2001", variation_id: "5002" }.freeze
  CHECKOUT_CONTROL = { flag_key: "checkout_flow", rule_key: "checkout_ab", variation_key: "control",
                       enabled: false, experiment_id: "2001", variation_id: "5001" }.freeze
  # sendFlagDecisions is false in the minimal datafile: rollout decisions are not dispatched.
  CHECKOUT_DELIVERY = { flag_key: "checkout_flow", rule_key: "checkout_delivery", variation_key: "on",
                        enabled: true, experiment_id: "6001", variation_id: "7001", dispatched: false }.freeze
  CHECKOUT_EVERYONE_ELSE = { flag_key: "checkout_flow", rule_key: "default-rollout-3001", variation_key: "off",
                             enabled: false, experiment_id: "6002", variation_id: "7002", dispatched: false }.freeze
  NO_RULE = { flag_key: "checkout_flow", rule_key: nil, variation_key: nil, enabled: false, dispatched: false }.freeze

  def test_listener_is_a_stable_callable_with_the_sdk_signature
    client = new_client
    listener = client.listener
    assert_respond_to listener, :call
    assert_same listener, client.listener
    assert_equal listener, client.listener # the SDK refuses a second registration of an == callback
    assert_equal :queued, listener.call("flag", uid("u"), {}, flag(**CHECKOUT_TREATMENT))
    assert_equal [uid("u")], delivered(client).map { |m| m["userId"] }
  end

  def test_flag_exposure_without_datafile_keeps_the_sdk_ids
    client = new_client
    assert_equal :queued, client.listener.call("flag", uid("u1"), { "plan" => "pro" }, flag(**CHECKOUT_TREATMENT))
    messages = delivered(client)
    assert_equal 1, messages.size
    event = messages.first
    assert_equal "track", event["type"]
    assert_equal "Experiment Viewed", event["event"]
    assert_equal uid("u1"), event["userId"]
    assert_equal({ "flagKey" => "checkout_flow", "ruleKey" => "checkout_ab", "variationKey" => "treatment",
                   "enabled" => true, "optimizelyUserId" => uid("u1"), "userAttributes" => { "plan" => "pro" },
                   "experiment_id" => "2001", "experiment_name" => "checkout_ab",
                   "variation_id" => "5002", "variation_name" => "treatment" }, event["properties"])
    assert_equal({ "name" => "flagwire", "version" => "0.2.0" }, event.dig("context", "library"))
    assert_match(/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/, event["timestamp"])
    refute_empty event["messageId"]
  end

  def test_without_datafile_rule_and_variation_make_an_exposure_unless_not_dispatched
    client = new_client
    listener = client.method(:on_decision)
    assert_equal :ok, listener.call("flag", uid("exp"), {}, flag(**CHECKOUT_CONTROL))
    assert_equal :skipped, listener.call("flag", uid("rollout-not-dispatched"), {}, flag(**CHECKOUT_DELIVERY))
    assert_equal :skipped, listener.call("flag", uid("no-rule"), {}, flag(**NO_RULE))
    assert_equal :skipped, listener.call("flag", uid("disabled"), {}, flag(**CHECKOUT_TREATMENT, dispatched: false))
    # An SDK older than 5.2 sends no ids: the event has none either.
    old_sdk = flag(**CHECKOUT_TREATMENT).except(:experiment_id, :variation_id)
    assert_equal :ok, listener.call("flag", uid("old-sdk"), {}, old_sdk)
    users = by_user(delivered(client))
    assert_equal [uid("exp"), uid("old-sdk")].sort, users.keys.sort
    refute users[uid("old-sdk")].first["properties"].key?("experiment_id")
    assert_equal "2001", users[uid("exp")].first.dig("properties", "experiment_id")
  end

  MINIMAL_DATAFILE_DECISIONS = {
    "control" => [CHECKOUT_CONTROL, :ok],
    "treatment" => [CHECKOUT_TREATMENT, :ok],
    "delivery" => [CHECKOUT_DELIVERY, :skipped],
    "delivery-dispatched" => [CHECKOUT_DELIVERY.merge(dispatched: true), :skipped],
    "everyone-else" => [CHECKOUT_EVERYONE_ELSE, :skipped],
    "no-rule" => [NO_RULE, :skipped],
    "disabled-event" => [CHECKOUT_TREATMENT.merge(dispatched: false), :skipped]
    # A rule the datafile does not list is held for the next datafile: tests/classify.rs.
  }.freeze

  def test_with_the_minimal_datafile_only_experiments_are_exposures
    client = new_client
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    MINIMAL_DATAFILE_DECISIONS.each do |name, (info, expected)|
      assert_equal expected, client.on_decision("flag", uid(name), { "plan" => "pro" }, flag(**info)), name
    end
    users = by_user(delivered(client))
    assert_equal [uid("control"), uid("treatment")].sort, users.keys.sort
    props = users[uid("control")].first["properties"]
    assert_equal({ "flagKey" => "checkout_flow", "ruleKey" => "checkout_ab", "ruleType" => "experiment", "variationKey" => "control",
                   "enabled" => false, "optimizelyUserId" => uid("control"), "userAttributes" => { "plan" => "pro" },
                   "experiment_id" => "2001", "experiment_name" => "checkout_ab",
                   "variation_id" => "5001", "variation_name" => "control" }, props)
    stats = client.stats
    assert_equal 7, stats[:decisions]
    assert_equal 2, stats[:exposures]
    assert_equal 5, stats[:skipped]
  end

  # The same decisions through the listener: handed over later, the same events.
  def test_the_listener_hands_over_the_same_decisions
    client = new_client
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    MINIMAL_DATAFILE_DECISIONS.each do |name, (info, _)|
      assert_equal :queued, client.listener.call("flag", uid(name), { "plan" => "pro" }, flag(**info)), name
    end
    stats = client.stats # hands the pending decisions over first
    assert_equal 7, stats[:decisions]
    assert_equal 2, stats[:exposures]
    assert_equal 5, stats[:skipped]
    users = by_user(delivered(client))
    assert_equal [uid("control"), uid("treatment")].sort, users.keys.sort
    assert_equal "5001", users[uid("control")].first.dig("properties", "variation_id")
  end

  def test_repeated_rule_keys_are_classified_per_flag
    client = new_client
    client.set_datafile(FlagwireTest::REPEATED_DATAFILE)
    listener = client.method(:on_decision)
    # sendFlagDecisions is true here: rollout decisions ARE dispatched, and still are no exposures.
    cases = {
      "a" => [{ flag_key: "flag_a", rule_key: "shared_rule", variation_key: "a_treatment", experiment_id: "2101", variation_id: "5102" }, :ok],
      "b" => [{ flag_key: "flag_b", rule_key: "shared_rule", variation_key: "on", experiment_id: "6201", variation_id: "7201" }, :skipped],
      "c" => [{ flag_key: "flag_c", rule_key: "mutex_c", variation_key: "c_control", experiment_id: "2301", variation_id: "5301" }, :ok],
      "d" => [{ flag_key: "flag_d", rule_key: "mutex_d", variation_key: "d_treatment", experiment_id: "2302", variation_id: "5402" }, :ok],
      "a-else" => [{ flag_key: "flag_a", rule_key: "default-rollout-3101", variation_key: "off", experiment_id: "6101", variation_id: "7101" }, :skipped]
    }
    cases.each do |name, (info, expected)|
      assert_equal expected, listener.call("flag", uid(name), {}, flag(**info, dispatched: true)), name
    end
    users = by_user(delivered(client))
    assert_equal %w[a c d].map { |n| uid(n) }.sort, users.keys.sort
    assert_equal "2101", users[uid("a")].first.dig("properties", "experiment_id")
    assert_equal "2301", users[uid("c")].first.dig("properties", "experiment_id")
    assert_equal "2302", users[uid("d")].first.dig("properties", "experiment_id")
  end

  def test_include_rollouts_emits_deliveries_too
    client = new_client(include_rollouts: true)
    client.set_datafile(FlagwireTest::REPEATED_DATAFILE)
    info = flag(flag_key: "flag_b", rule_key: "shared_rule", variation_key: "on", experiment_id: "6201", variation_id: "7201")
    assert_equal :ok, client.on_decision("flag", uid("b"), {}, info)
    assert_equal 1, delivered(client).size
  end

  def test_legacy_types_with_and_without_datafile
    [nil, FlagwireTest::MINIMAL_DATAFILE].each do |datafile|
      collector.reset
      client = new_client
      client.set_datafile(datafile) if datafile
      l = client.listener
      tag = datafile ? "df" : "nodf"
      feature_test = feature(feature_key: "checkout_flow", enabled: true, source: "feature-test",
                             experiment_key: "checkout_ab", variation_key: "treatment")
      assert_equal :ok, l.call("feature", uid("#{tag}-feature"), { "plan" => "pro" }, feature_test)
      assert_equal :skipped, l.call("feature", uid("#{tag}-feature-rollout"), {},
                                    feature(feature_key: "checkout_flow", enabled: true, source: "rollout"))
      # Optimizely sends no impression for variable getters: neither does flagwire.
      assert_equal :skipped, l.call("feature-variable", uid("#{tag}-var"), {},
                                    feature_variable(feature_key: "checkout_flow", enabled: true, source: "feature-test",
                                                     experiment_key: "checkout_ab", variation_key: "treatment"))
      assert_equal :skipped, l.call("all-feature-variables", uid("#{tag}-allvars"), {},
                                    all_feature_variables(feature_key: "checkout_flow", enabled: true, source: "feature-test",
                                                          experiment_key: "checkout_ab", variation_key: "treatment"))
      assert_equal :ok, l.call("feature-test", uid("#{tag}-activate"), {},
                               experiment(experiment_key: "checkout_ab", variation_key: "control"))
      assert_equal :skipped, l.call("ab-test", uid("#{tag}-not-bucketed"), {},
                                    experiment(experiment_key: "checkout_ab", variation_key: nil))
      users = by_user(delivered(client))
      assert_equal [uid("#{tag}-feature"), uid("#{tag}-activate")].sort, users.keys.sort, tag
      feature_event = users[uid("#{tag}-feature")].first["properties"]
      assert_equal "checkout_flow", feature_event["flagKey"]
      assert_equal "checkout_ab", feature_event["ruleKey"]
      assert_equal "treatment", feature_event["variationKey"]
      assert_equal({ "plan" => "pro" }, feature_event["userAttributes"])
      assert_equal "2001", users[uid("#{tag}-activate")].first.dig("properties", "experiment_id") if datafile
      client.close
    end
  end

  def test_attributes_are_sent_only_when_present
    client = new_client
    l = client.listener
    l.call("flag", uid("empty"), {}, flag(**CHECKOUT_TREATMENT))
    l.call("flag", uid("nil"), nil, flag(**CHECKOUT_TREATMENT))
    l.call("flag", uid("sym"), { plan: "pro", age: 31, beta: true, score: 1.5, "$opt_bucketing_id": "acct-1" },
           flag(**CHECKOUT_TREATMENT))
    l.call("flag", uid("utf8"), { "ville" => "Zürich ✓", "quote" => "a\"b\\c\n" }, flag(**CHECKOUT_TREATMENT))
    users = by_user(delivered(client))
    refute users[uid("empty")].first["properties"].key?("userAttributes")
    refute users[uid("nil")].first["properties"].key?("userAttributes")
    assert_equal({ "plan" => "pro", "age" => 31, "beta" => true, "score" => 1.5, "$opt_bucketing_id" => "acct-1" },
                 users[uid("sym")].first.dig("properties", "userAttributes"))
    assert_equal({ "ville" => "Zürich ✓", "quote" => "a\"b\\c\n" }, users[uid("utf8")].first.dig("properties", "userAttributes"))
  end

  def test_include_attributes_false_and_other_property_styles
    client = new_client(include_attributes: false, property_style: "segment", user_id_field: "anonymousId",
                        event_name: "Experiment Exposed")
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    client.listener.call("flag", uid("anon"), { "plan" => "pro" }, flag(**CHECKOUT_TREATMENT))
    event = delivered(client).first
    assert_equal "Experiment Exposed", event["event"]
    assert_equal uid("anon"), event["anonymousId"]
    refute event.key?("userId")
    assert_equal({ "experiment_id" => "2001", "experiment_name" => "checkout_ab", "variation_id" => "5002",
                   "variation_name" => "treatment" }, event["properties"])
  end

  # Calls no SDK makes (missing arguments, wrong types, strings the core refuses).
  def bad_calls
    [
      [],
      ["flag"],
      ["flag", uid("x"), {}, nil],
      ["flag", uid("x"), {}, "not a hash"],
      ["flag", nil, {}, flag(**CHECKOUT_TREATMENT)],
      ["flag", uid("x"), {}, { rule_key: "r" }], # no flag key: the core refuses it
      ["flag", uid("x"), { "n" => Float::NAN }, flag(**CHECKOUT_TREATMENT)],
      ["flag", "bad utf8 \xff".dup.force_encoding("BINARY"), {}, flag(**CHECKOUT_TREATMENT).merge(experiment_id: nil)],
      ["feature", uid("x"), {}, { source: "feature-test" }],
      ["flag", uid("x"), [1, 2], flag(**CHECKOUT_TREATMENT)],
      [1, 2, 3, 4]
    ]
  end

  def test_on_decision_never_raises
    client = new_client
    l = client.method(:on_decision)
    _out, err = capture_io do
      bad_calls.each { |args| assert_nil l.call(*args), args.inspect }
    end
    assert_equal 1, err.scan("flagwire: listener error").size, "warned once: #{err}"
    assert_equal bad_calls.size, client.stats[:listener_errors]
    # Unknown decision types are valid notifications, just not exposures.
    assert_equal :skipped, l.call("some-future-type", uid("x"), {}, {})
    # The 100+ JSON errors above and below must not break later serialization (json's State#depth).
    capture_io { 120.times { l.call("flag", uid("nan"), { "n" => { "m" => Float::NAN } }, flag(**CHECKOUT_TREATMENT)) } }
    assert_equal :ok, l.call("flag", uid("after"), { "plan" => "pro" }, flag(**CHECKOUT_TREATMENT))
    assert_equal [uid("after")], delivered(client).map { |m| m["userId"] }
  end

  # The listener never raises either. What it hands over later fails later: a decision it cannot
  # serialize counts in stats[:listener_errors], one the core refuses in stats[:dropped_invalid]
  # (a string that is not UTF-8 in both); every bad call shows on one side or the other.
  def test_the_listener_never_raises
    client = new_client
    l = client.listener
    _out, err = capture_io do
      bad_calls.each { |args| assert_includes [nil, :queued], l.call(*args), args.inspect }
      client.flush(timeout: 10)
    end
    assert_equal 1, err.scan("flagwire: listener error").size, "warned once: #{err}"
    stats = client.stats
    # Handed over at once (not a flag decision with a Hash): 6, counted on both sides. Queued: a
    # nil user id, no flag key and attributes that are not an object (core), NaN (binding), and
    # the binary string (both).
    assert_equal 6 + 1 + 1, stats[:listener_errors]
    assert_equal 6 + 3 + 1, stats[:dropped_invalid]
    capture_io { 120.times { l.call("flag", uid("nan"), { "n" => { "m" => Float::NAN } }, flag(**CHECKOUT_TREATMENT)) } }
    assert_equal :queued, l.call("flag", uid("after"), { "plan" => "pro" }, flag(**CHECKOUT_TREATMENT))
    assert_equal [uid("after")], delivered(client).map { |m| m["userId"] }
  end

  # The binding only converts (docs/design.md §8): every flag decision reaches the core with its
  # attributes, whatever it is; the core alone decides what is an exposure, from its config.
  def test_every_flag_decision_reaches_the_core_with_its_attributes
    unserializable = { "n" => Float::NAN } # the stdlib JSON refuses NaN: serializing raises
    client = new_client
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    l = client.method(:on_decision)
    assert_equal :skipped, l.call("flag", uid("rollout"), { "plan" => "pro" }, flag(**CHECKOUT_DELIVERY))
    assert_equal :skipped, l.call("flag", uid("no-rule"), {}, flag(**NO_RULE, dispatched: true))
    assert_equal 2, client.stats[:decisions]
    _out, err = capture_io do
      assert_nil l.call("flag", uid("rollout-nan"), unserializable, flag(**CHECKOUT_DELIVERY))
      assert_nil l.call("flag", uid("exposure-nan"), unserializable, flag(**CHECKOUT_TREATMENT))
    end
    assert_match(/NaN/, err)
    assert_equal 2, client.stats[:listener_errors]

    attrs = { "plan" => "pro" }
    rollouts = new_client(include_rollouts: true)
    rollouts.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    assert_equal :ok, rollouts.on_decision("flag", uid("rollout-included"), attrs, flag(**CHECKOUT_DELIVERY))
    not_honored = new_client(honor_disable_decision_event: false)
    not_honored.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    assert_equal :queued, not_honored.listener.call("flag", uid("disabled-counted"), attrs, flag(**CHECKOUT_TREATMENT, dispatched: false))
    assert rollouts.flush(timeout: 10)
    users = by_user(delivered(not_honored))
    assert_equal attrs, users[uid("rollout-included")].first.dig("properties", "userAttributes")
    assert_equal attrs, users[uid("disabled-counted")].first.dig("properties", "userAttributes")
  end

  # On the SDK's thread the listener allocates nothing of its own (it keeps references; the
  # pending list grows now and then). on_decision allocates the header's word list, plus the
  # attributes' JSON when there are attributes: the record goes into reused native memory.
  def test_allocations_on_the_calling_thread
    client = new_client(flush_interval_ms: 60_000, max_queue_events: 10_000)
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    user = uid("alloc")
    attrs = { "plan" => "pro" }
    empty = {}
    exposure = flag(**CHECKOUT_TREATMENT)
    rollout = flag(**CHECKOUT_DELIVERY)
    allocations = lambda do |callable, attributes, info|
      5.times { callable.call("flag", user, attributes, info) } # warm the inline caches
      # The drainer thread allocates too (GC.stat counts the process): keep it out meanwhile.
      drain_lock = client.instance_variable_get(:@batcher).instance_variable_get(:@drain_lock)
      drain_lock.synchronize do
        before = GC.stat(:total_allocated_objects)
        1000.times { callable.call("flag", user, attributes, info) }
        GC.stat(:total_allocated_objects) - before
      end
    end
    listener = client.listener
    assert_operator allocations.call(listener, attrs, exposure), :<=, 20
    assert_operator allocations.call(listener, empty, rollout), :<=, 20
    now = client.method(:on_decision)
    assert_operator allocations.call(now, empty, exposure), :<=, 1010
    assert_operator allocations.call(now, empty, rollout), :<=, 1010
    assert_operator allocations.call(now, attrs, exposure), :<=, 2010
  end

  # Strings are length-prefixed in a decision record: a NUL byte is data, and the exposure is sent.
  def test_nul_bytes_in_strings_are_delivered
    client = new_client
    l = client.listener
    user = "#{uid('nul')}\0tail"
    assert_equal :queued, l.call("flag", user, { "k" => "v\0w" }, flag(**CHECKOUT_TREATMENT, variation_key: "treat\0ment"))
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    user2 = "#{uid('nul2')}\0"
    assert_equal :ok, client.on_decision("flag", user2, {}, flag(**CHECKOUT_TREATMENT))
    users = by_user(delivered(client))
    assert_equal [user, user2].sort, users.keys.sort
    props = users[user].first["properties"]
    assert_equal user, props["optimizelyUserId"]
    assert_equal "treat\0ment", props["variationKey"]
    assert_equal({ "k" => "v\0w" }, props["userAttributes"])
    assert_equal "2001", users[user2].first.dig("properties", "experiment_id")
    assert_equal 0, client.stats[:listener_errors]
  end

  # Records carry the SDK's experiment and variation ids: without a datafile the event keeps them
  # (they are not looked up anywhere, so ids no datafile has arrive as they are).
  def test_ids_are_carried_without_a_datafile
    client = new_client
    info = flag(flag_key: "search_ranking", rule_key: "ranking_ab", variation_key: "bm25",
                experiment_id: "exp-77", variation_id: "var-88")
    assert_equal :queued, client.listener.call("flag", uid("ids"), { "plan" => "pro" }, info)
    event = delivered(client).first
    assert_equal({ "flagKey" => "search_ranking", "ruleKey" => "ranking_ab", "variationKey" => "bm25",
                   "enabled" => true, "optimizelyUserId" => uid("ids"), "userAttributes" => { "plan" => "pro" },
                   "experiment_id" => "exp-77", "experiment_name" => "ranking_ab",
                   "variation_id" => "var-88", "variation_name" => "bm25" }, event["properties"])
  end

  def test_a_nil_user_id_is_refused_by_the_core_and_counted_on_both_sides
    client = new_client
    client.set_datafile(FlagwireTest::MINIMAL_DATAFILE)
    capture_io do
      assert_nil client.on_decision("flag", nil, { "plan" => "pro" }, flag(**CHECKOUT_TREATMENT))
      assert_nil client.on_decision("flag", nil, {}, flag(**CHECKOUT_DELIVERY))
    end
    stats = client.stats
    assert_equal 2, stats[:listener_errors] # the binding's count
    assert_equal 2, stats[:dropped_invalid] # the core's: an empty user id is a dropped input
    assert_equal 0, stats[:enqueued]
    assert_match(/user_id/, client.last_error)
    # Through the listener the core refuses it when it is handed over: counted there.
    assert_equal :queued, client.listener.call("flag", nil, {}, flag(**CHECKOUT_TREATMENT))
    stats = client.stats
    assert_equal 2, stats[:listener_errors]
    assert_equal 3, stats[:dropped_invalid]
  end

  def test_a_decision_after_close_is_ignored_cleanly
    client = new_client
    client.close
    _out, err = capture_io do
      assert_nil client.listener.call("flag", uid("late"), {}, flag(**CHECKOUT_TREATMENT))
      assert_nil client.listener.call("flag", uid("late"), {}, flag(**CHECKOUT_TREATMENT))
    end
    assert_equal 1, err.scan("after close").size
    assert_empty my_messages
  end
end
