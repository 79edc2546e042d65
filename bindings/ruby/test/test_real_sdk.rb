# frozen_string_literal: true

require "test_helper"

# Against the real Optimizely Ruby SDK when it can be loaded: gem optimizely-sdk installed, or
# OPTIMIZELY_SDK_LIB pointing at a checkout's lib/ (it needs the json-schema and murmurhash3 gems;
# Debian: ruby-json-schema ruby-murmurhash3). Skipped otherwise (rubygems.org is not reachable
# from CI); the stand-in in fake_optimizely.rb covers the same ground everywhere.
$LOAD_PATH.unshift(ENV["OPTIMIZELY_SDK_LIB"]) if ENV["OPTIMIZELY_SDK_LIB"]
begin
  require "optimizely"
  REAL_OPTIMIZELY = true
rescue LoadError
  REAL_OPTIMIZELY = false
end

class TestRealSdk < FlagwireTest::Case
  def setup
    skip "the optimizely-sdk gem is not available (set OPTIMIZELY_SDK_LIB to a ruby-sdk lib/)" unless REAL_OPTIMIZELY
    super
  end

  def optimizely(datafile = FlagwireTest::MINIMAL_DATAFILE)
    client = Optimizely::Project.new(
      datafile: datafile,
      event_dispatcher: Optimizely::NoOpEventDispatcher.new,
      settings: Optimizely::Helpers::OptimizelySdkSettings.new(disable_odp: true)
    )
    @projects << client
    client
  end

  def teardown
    super
    @projects&.each(&:close)
  end

  def test_uses_the_sdk_constants
    @projects = []
    assert_equal Optimizely::NotificationCenter::NOTIFICATION_TYPES[:DECISION], Flagwire::OptimizelySDK.decision_type
    assert_equal Optimizely::NotificationCenter::NOTIFICATION_TYPES[:OPTIMIZELY_CONFIG_UPDATE],
                 Flagwire::OptimizelySDK.config_update_type
    assert_equal Flagwire::OptimizelySDK::DECISION_FALLBACK, Optimizely::NotificationCenter::NOTIFICATION_TYPES[:DECISION]
    assert_equal Flagwire::OptimizelySDK::CONFIG_UPDATE_FALLBACK,
                 Optimizely::NotificationCenter::NOTIFICATION_TYPES[:OPTIMIZELY_CONFIG_UPDATE]
  end

  def test_decide_for_200_users_sends_exactly_the_experiment_exposures
    @projects = []
    project = optimizely
    client = new_client
    client.attach(project)
    expected = {}
    200.times do |i|
      user = uid("user#{i}")
      decision = project.create_user_context(user, { "plan" => "pro" }).decide("checkout_flow")
      expected[user] = decision.variation_key if decision.rule_key == "checkout_ab"
    end
    # The reference run (optimizely.md §0.2) gives 108 experiment decisions for user0..user199;
    # these ids carry a prefix, so only the split is checked.
    assert_operator expected.size, :>, 50
    assert_operator expected.size, :<, 150
    messages = delivered(client)
    assert_equal expected.keys.sort, messages.map { |m| m["userId"] }.sort
    messages.each do |m|
      assert_equal expected[m["userId"]], m.dig("properties", "variationKey")
      assert_equal "2001", m.dig("properties", "experiment_id")
      assert_equal({ "plan" => "pro" }, m.dig("properties", "userAttributes"))
    end
    assert_equal 200, client.stats[:decisions]
  end

  def test_repeated_rule_keys_with_the_real_sdk
    @projects = []
    project = optimizely(FlagwireTest::REPEATED_DATAFILE)
    client = new_client
    client.attach(project)
    expected = []
    100.times do |i|
      user = uid("u#{i}")
      project.create_user_context(user).decide_all.each_value do |d|
        expected << [user, d.flag_key] if %w[shared_rule mutex_c mutex_d].include?(d.rule_key) && d.flag_key != "flag_b"
      end
    end
    messages = delivered(client)
    assert_equal expected.sort, messages.map { |m| [m["userId"], m.dig("properties", "flagKey")] }.sort
    refute(messages.any? { |m| m.dig("properties", "flagKey") == "flag_b" })
  end

  def test_legacy_apis_and_detach_with_the_real_sdk
    @projects = []
    project = optimizely
    client = new_client
    client.attach(project)
    users = Array.new(20) { |i| uid("legacy#{i}") }
    in_experiment = users.select do |u|
      project.create_user_context(u).decide("checkout_flow", [Optimizely::Decide::OptimizelyDecideOption::DISABLE_DECISION_EVENT])
             .rule_key == "checkout_ab"
    end
    users.each { |u| project.is_feature_enabled("checkout_flow", u) }
    client.detach
    users.each { |u| project.is_feature_enabled("checkout_flow", u) }
    messages = delivered(client)
    assert_equal in_experiment.sort, messages.map { |m| m["userId"] }.sort
  end
end
