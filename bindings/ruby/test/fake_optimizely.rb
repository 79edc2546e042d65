# frozen_string_literal: true

require "json"

# A stand-in for the Optimizely Ruby SDK (gem optimizely-sdk 5.x, which is not installable here):
# the same notification-center API and semantics (lib/optimizely/notification_center.rb), config
# managers answering #config / #ready? like the SDK's, and a Project whose decision methods send
# DECISION notifications with exactly the arguments ruby-sdk sends (lib/optimizely.rb). It does no
# bucketing: each call says which rule and variation the user got. It stands in for the SDK, never
# for flagwire.
#
# Deliberately NOT under the Optimizely:: namespace, so the binding's fallback notification type
# strings are what registers the listeners.
module FakeOptimizely
  # ruby-sdk 5.x Optimizely::NotificationCenter::NOTIFICATION_TYPES.
  NOTIFICATION_TYPES = {
    ACTIVATE: "ACTIVATE: experiment, user_id, attributes, variation, event",
    DECISION: "DECISION: type, user_id, attributes, decision_info",
    LOG_EVENT: "LOG_EVENT: type, log_event",
    OPTIMIZELY_CONFIG_UPDATE: "optimizely_config_update",
    TRACK: "TRACK: event_key, user_id, attributes, event_tags, event"
  }.freeze

  class NotificationCenter
    attr_reader :notifications, :errors

    def initialize
      @notification_id = 1
      @notifications = {}
      NOTIFICATION_TYPES.each_value { |value| @notifications[value] = [] }
      @errors = []
    end

    def add_notification_listener(notification_type, notification_callback = nil, &block)
      return nil unless @notifications.include?(notification_type)
      return nil if notification_callback && block

      notification_callback ||= block
      return nil unless notification_callback.respond_to?(:call)

      @notifications[notification_type].each do |notification|
        return -1 if notification[:callback] == notification_callback
      end
      @notifications[notification_type].push(notification_id: @notification_id, callback: notification_callback)
      notification_id = @notification_id
      @notification_id += 1
      notification_id
    end

    def remove_notification_listener(notification_id)
      return nil unless notification_id

      @notifications.each_key do |key|
        @notifications[key].each do |notification|
          if notification_id == notification[:notification_id]
            @notifications[key].delete(notification_id: notification_id, callback: notification[:callback])
            return true
          end
        end
      end
      false
    end

    def notification_count(notification_type)
      @notifications.include?(notification_type) ? @notifications[notification_type].count : 0
    end

    # As ruby-sdk: callbacks in registration order; the first StandardError is logged and
    # SKIPS every later callback (return nil).
    def send_notifications(notification_type, *args)
      return nil unless @notifications.include?(notification_type)

      @notifications[notification_type].each do |notification|
        notification[:callback].call(*args)
      rescue StandardError => e
        @errors << e
        return nil
      end
    end
  end

  # DatafileProjectConfig: #datafile is the JSON text; plus the lookups the decisions need.
  class ProjectConfig
    attr_reader :datafile, :revision, :send_flag_decisions

    def initialize(datafile)
      @datafile = datafile
      parsed = JSON.parse(datafile)
      @revision = parsed["revision"]
      @send_flag_decisions = parsed.fetch("sendFlagDecisions", false)
      experiments = parsed["experiments"] + parsed["groups"].flat_map { |g| g["experiments"] }
      @experiments_by_id = experiments.to_h { |e| [e["id"], e] }
      @experiments_by_key = experiments.to_h { |e| [e["key"], e] }
      @rollouts = parsed["rollouts"].to_h { |r| [r["id"], r] }
      @flags = parsed["featureFlags"].to_h { |f| [f["key"], f] }
    end

    # [rule, source] for a rule key of a flag: "feature-test" for experiments, "rollout" for deliveries.
    def rule(flag_key, rule_key)
      flag = @flags.fetch(flag_key)
      experiment = flag["experimentIds"].map { |id| @experiments_by_id[id] }.find { |e| e["key"] == rule_key }
      return [experiment, "feature-test"] if experiment

      rollout_rule = @rollouts.fetch(flag["rolloutId"])["experiments"].find { |e| e["key"] == rule_key }
      return [rollout_rule, "rollout"] if rollout_rule

      raise ArgumentError, "no rule #{rule_key} in flag #{flag_key}"
    end

    def experiment(key)
      @experiments_by_key.fetch(key)
    end

    def feature_experiment?(experiment_id)
      @flags.each_value.any? { |f| f["experimentIds"].include?(experiment_id) }
    end
  end

  # StaticProjectConfigManager: #config is always there.
  class StaticConfigManager
    attr_reader :config, :sdk_key

    def initialize(datafile)
      @config = ProjectConfig.new(datafile)
      @sdk_key = nil
    end
  end

  # HTTPProjectConfigManager: not ready until a datafile arrives; each new revision sends
  # OPTIMIZELY_CONFIG_UPDATE (with no arguments) on the project's notification center.
  class PollingConfigManager
    attr_reader :sdk_key

    def initialize(notification_center)
      @notification_center = notification_center
      @config = nil
      @sdk_key = "fake-sdk-key"
      @config_calls_while_not_ready = 0
    end

    def ready?
      !@config.nil?
    end

    # The real one blocks up to blocking_timeout when not ready; this one counts such calls.
    attr_reader :config_calls_while_not_ready

    def config
      @config_calls_while_not_ready += 1 unless ready?
      @config
    end

    # HTTPProjectConfigManager#set_config.
    def datafile_fetched(datafile)
      config = ProjectConfig.new(datafile)
      return if @config && @config.revision == config.revision

      @config = config
      @notification_center.send_notifications(NOTIFICATION_TYPES[:OPTIMIZELY_CONFIG_UPDATE])
    end
  end

  class Project
    attr_reader :notification_center, :config_manager

    def initialize(datafile: nil, polling: false)
      @notification_center = NotificationCenter.new
      @config_manager = polling ? PollingConfigManager.new(@notification_center) : StaticConfigManager.new(datafile)
    end

    def config
      @config_manager.config
    end

    # Optimizely::Project#create_optimizely_decision: `rule_key` nil = no rule matched.
    def decide(user_id, flag_key, rule_key:, variation_key:, attributes: {}, disable_decision_event: false)
      experiment = variation = nil
      source = "rollout"
      if rule_key
        experiment, source = config.rule(flag_key, rule_key)
        variation = experiment["variations"].find { |v| v["key"] == variation_key } or
          raise ArgumentError, "no variation #{variation_key} in #{rule_key}"
      end
      dispatched = !disable_decision_event && (source == "feature-test" || config.send_flag_decisions)
      @notification_center.send_notifications(
        NOTIFICATION_TYPES[:DECISION], "flag", user_id, attributes || {},
        flag_key: flag_key,
        enabled: variation ? variation["featureEnabled"] : false,
        variables: { "button_color" => "gray" },
        variation_key: variation && variation["key"],
        rule_key: experiment && experiment["key"],
        reasons: [],
        decision_event_dispatched: dispatched,
        experiment_id: experiment && experiment["id"],
        variation_id: variation && variation["id"]
      )
      variation && variation["key"]
    end

    # Optimizely::Project#is_feature_enabled.
    def is_feature_enabled(flag_key, user_id, attributes = nil, rule_key:, variation_key:) # rubocop:disable Naming/PredicateName
      experiment, source = config.rule(flag_key, rule_key)
      variation = experiment["variations"].find { |v| v["key"] == variation_key }
      source_info = source == "feature-test" ? { experiment_key: experiment["key"], variation_key: variation["key"] } : nil
      @notification_center.send_notifications(
        NOTIFICATION_TYPES[:DECISION], "feature", user_id, attributes || {},
        feature_key: flag_key,
        feature_enabled: variation["featureEnabled"],
        source: source,
        source_info: source_info || {}
      )
      variation["featureEnabled"]
    end

    # Optimizely::Project#activate / #get_variation: "feature-test" when the experiment is a flag's.
    def activate(experiment_key, user_id, attributes = nil, variation_key:)
      experiment = config.experiment(experiment_key)
      type = config.feature_experiment?(experiment["id"]) ? "feature-test" : "ab-test"
      @notification_center.send_notifications(
        NOTIFICATION_TYPES[:DECISION], type, user_id, attributes || {},
        experiment_key: experiment_key,
        variation_key: variation_key
      )
      variation_key
    end
  end
end
