# frozen_string_literal: true

require "test_helper"
require "fake_optimizely"

# #attach / #detach against a stand-in of ruby-sdk's Project and NotificationCenter.
class TestAttach < FlagwireTest::Case
  def project(datafile = FlagwireTest::MINIMAL_DATAFILE)
    FakeOptimizely::Project.new(datafile: datafile)
  end

  def decision_type
    FakeOptimizely::NOTIFICATION_TYPES[:DECISION]
  end

  def config_update_type
    FakeOptimizely::NOTIFICATION_TYPES[:OPTIMIZELY_CONFIG_UPDATE]
  end

  def test_fallback_notification_types_are_ruby_sdks
    skip "Optimizely is loaded: the real constants are used" if defined?(::Optimizely::NotificationCenter)
    assert_equal FakeOptimizely::NOTIFICATION_TYPES[:DECISION], Flagwire::OptimizelySDK.decision_type
    assert_equal FakeOptimizely::NOTIFICATION_TYPES[:OPTIMIZELY_CONFIG_UPDATE], Flagwire::OptimizelySDK.config_update_type
  end

  def test_the_sdk_constants_are_used_when_defined
    skip "Optimizely is loaded" if defined?(::Optimizely)
    Object.const_set(:Optimizely, Module.new)
    ::Optimizely.const_set(:NotificationCenter, Class.new)
    ::Optimizely::NotificationCenter.const_set(:NOTIFICATION_TYPES, { DECISION: "D!", OPTIMIZELY_CONFIG_UPDATE: "U!" }.freeze)
    assert_equal "D!", Flagwire::OptimizelySDK.decision_type
    assert_equal "U!", Flagwire::OptimizelySDK.config_update_type
  ensure
    Object.send(:remove_const, :Optimizely) if defined?(::Optimizely) && !defined?(::Optimizely::Project)
  end

  def test_attach_registers_both_listeners_and_experiment_decisions_arrive_exactly
    optimizely = project
    client = new_client
    attachment = client.attach(optimizely)
    center = optimizely.notification_center
    assert_equal 1, center.notification_count(decision_type)
    assert_equal 1, center.notification_count(config_update_type)
    assert_equal center, attachment.notification_center
    assert client.attached?

    10.times { |i| optimizely.decide(uid("t#{i}"), "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment", attributes: { "plan" => "pro" }) }
    10.times { |i| optimizely.decide(uid("c#{i}"), "checkout_flow", rule_key: "checkout_ab", variation_key: "control") }
    10.times { |i| optimizely.decide(uid("r#{i}"), "checkout_flow", rule_key: "checkout_delivery", variation_key: "on") }
    5.times { |i| optimizely.decide(uid("e#{i}"), "checkout_flow", rule_key: "default-rollout-3001", variation_key: "off") }
    5.times { |i| optimizely.decide(uid("d#{i}"), "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment", disable_decision_event: true) }
    optimizely.decide(uid("none"), "checkout_flow", rule_key: nil, variation_key: nil)

    messages = delivered(client)
    assert_equal (10.times.map { |i| uid("t#{i}") } + 10.times.map { |i| uid("c#{i}") }).sort, messages.map { |m| m["userId"] }.sort
    assert_unique_message_ids(messages)
    treatment = messages.find { |m| m["userId"] == uid("t0") }["properties"]
    assert_equal({ "flagKey" => "checkout_flow", "ruleKey" => "checkout_ab", "ruleType" => "experiment", "variationKey" => "treatment",
                   "enabled" => true, "optimizelyUserId" => uid("t0"), "userAttributes" => { "plan" => "pro" },
                   "experiment_id" => "2001", "experiment_name" => "checkout_ab",
                   "variation_id" => "5002", "variation_name" => "treatment" }, treatment)
    assert_empty center.errors
    stats = client.stats
    assert_equal 41, stats[:decisions]
    assert_equal 20, stats[:exposures]
    assert_equal 0, stats[:listener_errors]
  end

  def test_attach_pushes_the_datafile_so_repeated_rule_keys_are_classified_per_flag
    optimizely = project(FlagwireTest::REPEATED_DATAFILE)
    client = new_client
    client.attach(optimizely)
    optimizely.decide(uid("a"), "flag_a", rule_key: "shared_rule", variation_key: "a_control")
    # flag_b's "shared_rule" is a delivery, dispatched because sendFlagDecisions is true.
    optimizely.decide(uid("b"), "flag_b", rule_key: "shared_rule", variation_key: "on")
    optimizely.decide(uid("c"), "flag_c", rule_key: "mutex_c", variation_key: "c_treatment")
    optimizely.decide(uid("d"), "flag_d", rule_key: "mutex_d", variation_key: "d_control")
    users = by_user(delivered(client))
    assert_equal %w[a c d].map { |n| uid(n) }.sort, users.keys.sort
  end

  def test_config_update_pushes_the_new_datafile
    optimizely = FakeOptimizely::Project.new(polling: true)
    client = new_client
    client.attach(optimizely)
    # Not ready: attach must not call #config (the real one blocks up to its blocking_timeout).
    assert_equal 0, optimizely.config_manager.config_calls_while_not_ready

    optimizely.config_manager.datafile_fetched(FlagwireTest::MINIMAL_DATAFILE)
    optimizely.decide(uid("1-exp"), "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment")
    optimizely.decide(uid("1-rollout"), "checkout_flow", rule_key: "checkout_delivery", variation_key: "on")

    # A new revision: flags flag_a..flag_d appear. flag_b's delivery is only known as one from it.
    optimizely.config_manager.datafile_fetched(FlagwireTest::REPEATED_DATAFILE)
    optimizely.decide(uid("2-a"), "flag_a", rule_key: "shared_rule", variation_key: "a_treatment")
    optimizely.decide(uid("2-b"), "flag_b", rule_key: "shared_rule", variation_key: "on")

    users = by_user(delivered(client))
    assert_equal [uid("1-exp"), uid("2-a")].sort, users.keys.sort
    assert_equal "2101", users[uid("2-a")].first.dig("properties", "experiment_id")
    assert_empty optimizely.notification_center.errors
  end

  def test_a_second_attach_is_refused
    optimizely = project
    client = new_client
    client.attach(optimizely)
    error = assert_raises(Flagwire::Error) { client.attach(optimizely) }
    assert_match(/already attached/, error.message)
    assert_raises(Flagwire::Error) { client.attach(project) }
    # Another flagwire client on the same project would double every event too.
    other = new_client
    error = assert_raises(Flagwire::Error) { other.attach(optimizely) }
    assert_match(/another Flagwire::Client/, error.message)
    assert_equal 1, optimizely.notification_center.notification_count(decision_type)

    optimizely.decide(uid("once"), "checkout_flow", rule_key: "checkout_ab", variation_key: "control")
    assert_equal 1, delivered(client).size
  end

  def test_attach_refuses_a_listener_registered_by_hand
    optimizely = project
    client = new_client
    optimizely.notification_center.add_notification_listener(decision_type, client.listener)
    error = assert_raises(Flagwire::Error) { client.attach(optimizely) }
    assert_match(/returned -1/, error.message)
    refute client.attached?
    assert_equal 0, optimizely.notification_center.notification_count(config_update_type)
  end

  def test_attach_needs_a_project
    client = new_client
    assert_raises(ArgumentError) { client.attach(Object.new) }
    refute client.attached?
  end

  def test_detach_removes_both_listeners_and_allows_attaching_again
    optimizely = project
    client = new_client
    attachment = client.attach(optimizely)
    optimizely.decide(uid("before"), "checkout_flow", rule_key: "checkout_ab", variation_key: "control")
    assert attachment.detach
    refute client.detach
    refute client.attached?
    assert_equal 0, optimizely.notification_center.notification_count(decision_type)
    assert_equal 0, optimizely.notification_center.notification_count(config_update_type)
    optimizely.decide(uid("detached"), "checkout_flow", rule_key: "checkout_ab", variation_key: "control")

    other = new_client
    other.attach(optimizely) # the project is free again
    optimizely.decide(uid("other"), "checkout_flow", rule_key: "checkout_ab", variation_key: "control")
    assert other.detach
    client.attach(optimizely)
    optimizely.decide(uid("again"), "checkout_flow", rule_key: "checkout_ab", variation_key: "control")
    client.flush
    assert_equal [uid("again"), uid("before"), uid("other")], delivered(other).map { |m| m["userId"] }.sort
  end

  def test_close_detaches
    optimizely = project
    client = new_client
    client.attach(optimizely)
    client.close
    assert_equal 0, optimizely.notification_center.notification_count(decision_type)
    assert_equal 0, optimizely.notification_center.notification_count(config_update_type)
    assert_raises(Flagwire::ClosedError) { client.attach(optimizely) }
  end

  def test_listeners_after_flagwire_still_run_when_a_decision_is_bad
    optimizely = project
    client = new_client
    client.attach(optimizely)
    seen = []
    optimizely.notification_center.add_notification_listener(decision_type, ->(*args) { seen << args[1] })
    capture_io do
      # A notification the core refuses (no flag key): flagwire must not raise, or ruby-sdk would
      # skip the listener registered after it.
      optimizely.notification_center.send_notifications(decision_type, "flag", uid("bad"), {}, { rule_key: "x" })
      optimizely.notification_center.send_notifications(decision_type, "flag", nil, nil, nil)
    end
    optimizely.decide(uid("good"), "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment")
    assert_equal [uid("bad"), nil, uid("good")], seen
    assert_empty optimizely.notification_center.errors
    stats = client.stats
    assert_equal 1, stats[:listener_errors] # the one handed over at once (not a flag decision Hash)
    assert_equal 2, stats[:dropped_invalid] # that one, and the flag decision the core refused later
  end

  def test_a_raising_listener_before_flagwire_skips_it_as_ruby_sdk_does
    # Documents the SDK behaviour the "never raise" rule protects against (optimizely.md §7.4).
    optimizely = project
    optimizely.notification_center.add_notification_listener(decision_type, ->(*) { raise "app bug" })
    client = new_client
    client.attach(optimizely)
    optimizely.decide(uid("skipped"), "checkout_flow", rule_key: "checkout_ab", variation_key: "treatment")
    assert_equal 1, optimizely.notification_center.errors.size
    assert_empty delivered(client)
  end

  def test_legacy_apis_through_attach
    optimizely = project
    client = new_client
    client.attach(optimizely)
    optimizely.is_feature_enabled("checkout_flow", uid("feature"), { "plan" => "pro" }, rule_key: "checkout_ab", variation_key: "treatment")
    optimizely.is_feature_enabled("checkout_flow", uid("feature-rollout"), nil, rule_key: "checkout_delivery", variation_key: "on")
    optimizely.activate("checkout_ab", uid("activate"), nil, variation_key: "control")
    users = by_user(delivered(client))
    assert_equal [uid("activate"), uid("feature")].sort, users.keys.sort
    assert_equal "2001", users[uid("activate")].first.dig("properties", "experiment_id")
    assert_empty optimizely.notification_center.errors
  end

  def test_a_bad_datafile_update_keeps_the_previous_one_and_never_raises_into_the_sdk
    optimizely = FakeOptimizely::Project.new(polling: true)
    client = new_client
    client.attach(optimizely)
    optimizely.config_manager.datafile_fetched(FlagwireTest::REPEATED_DATAFILE)
    bad = FakeOptimizely::ProjectConfig.new(FlagwireTest::REPEATED_DATAFILE)
    def bad.datafile
      "{ not json"
    end
    optimizely.config_manager.instance_variable_set(:@config, bad)
    _out, err = capture_io do
      optimizely.notification_center.send_notifications(config_update_type)
    end
    assert_match(/could not push the Optimizely datafile/, err)
    assert_empty optimizely.notification_center.errors
    optimizely.decide(uid("b"), "flag_b", rule_key: "shared_rule", variation_key: "on")
    optimizely.decide(uid("a"), "flag_a", rule_key: "shared_rule", variation_key: "a_treatment")
    assert_equal [uid("a")], delivered(client).map { |m| m["userId"] }
  end
end
