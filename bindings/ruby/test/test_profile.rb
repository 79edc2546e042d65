# frozen_string_literal: true

require "test_helper"

# Segment Profile API (docs/design.md §7) through the binding, against the test collector's fixture routes.
class TestProfile < FlagwireTest::Case
  FIXTURE = {
    space_id: "spa_test", access_token: "tok_test",
    profiles: [
      { external_ids: [{ type: "user_id", id: "u1" }, { type: "anonymous_id", id: "anon-1" },
                       { type: "email", id: "u1@example.com" }],
        traits: { plan: "pro", seats: 12, beta: true, "Zürich" => "✓" },
        links: [{ type: "group_id", id: "acme" }] },
      { external_ids: [{ type: "anonymous_id", id: "anon-2" }], traits: { plan: "free" } }
    ]
  }.freeze

  def setup
    super
    collector.post_json("/_test/profiles", FIXTURE)
  end

  def profile_client(**profile)
    new_client(profile: { space_id: "spa_test", access_token: "tok_test", endpoint: collector.url,
                          timeout_ms: 2000 }.merge(profile))
  end

  def test_attributes_and_user_id
    client = profile_client
    assert_equal({ "plan" => "pro", "seats" => 12, "beta" => true, "Zürich" => "✓" },
                 client.profile_attributes(user_id: "u1"))
    assert_equal({ "plan" => "pro", "seats" => 12, "beta" => true, "Zürich" => "✓" },
                 client.profile_attributes("email:u1@example.com"))
    assert_equal "u1", client.profile_user_id(anonymous_id: "anon-1")
    assert_equal "u1", client.profile_user_id("user_id:u1")
  end

  def test_account_bucketing_and_trait_filter
    client = profile_client(account_bucketing: true, traits: ["plan"])
    assert_equal({ "plan" => "pro", "$opt_bucketing_id" => "acme" }, client.profile_attributes(user_id: "u1"))
  end

  def test_not_found_and_unavailable_are_nil
    client = profile_client(timeout_ms: 300)
    assert_nil client.profile_attributes(user_id: "nobody")
    assert_nil client.profile_user_id(anonymous_id: "anon-2") # a profile without a user_id
    collector.post_json("/_test/profile_script", { steps: [{ status: 503 }, { hang: true }] })
    assert_nil client.profile_attributes(user_id: "fresh-miss-1")
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_nil client.profile_attributes(user_id: "fresh-miss-2")
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 5.0 # bounded by timeout_ms, not hung
  end

  def test_cached_answers_do_not_call_the_api_again
    client = profile_client
    3.times { assert_equal "pro", client.profile_attributes(user_id: "u1")["plan"] }
    requests = collector.get_json("/_test/profile_requests").fetch("requests")
    assert_equal 1, requests.count { |r| r["identifier"] == "user_id:u1" && r["route"] == "traits" }
  end

  def test_errors
    client = new_client # no profile config
    error = assert_raises(Flagwire::ConfigError) { client.profile_attributes(user_id: "u1") }
    assert_match(/profile/, error.message)
    client = profile_client
    assert_raises(Flagwire::InvalidInputError) { client.profile_attributes("no-colon") }
    assert_raises(ArgumentError) { client.profile_attributes }
    assert_raises(ArgumentError) { client.profile_attributes(user_id: "a", email: "b") }
    assert_raises(ArgumentError) { client.profile_attributes("user_id:a", email: "b") }
    error = assert_raises(Flagwire::ConfigError) do
      Flagwire::Client.new(write_key: "k", profile: { space_id: "spa_test", access_token: "secret-token-9", timeout_ms: 0 })
    end
    assert_match(/profile/, error.message)
    refute_match(/secret-token-9/, error.message)
    client.close
    assert_raises(Flagwire::ClosedError) { client.profile_user_id(user_id: "u1") }
  end

  def test_lookups_from_many_threads_while_deciding
    client = profile_client
    threads = Array.new(6) do |t|
      Thread.new do
        Array.new(20) { |i| client.profile_attributes(user_id: i.even? ? "u1" : "missing-#{t}-#{i}") }
      end
    end
    results = threads.map { |th| th.join(30) && th.value }
    assert(results.all?)
    results.each do |r|
      r.each_with_index { |attrs, i| i.even? ? assert_equal("pro", attrs["plan"]) : assert_nil(attrs) }
    end
  end
end
