# frozen_string_literal: true

module Flagwire
  # What flagwire needs from the Optimizely Ruby SDK (gem optimizely-sdk 5.x), without depending
  # on it: the notification type names (ruby-sdk lib/optimizely/notification_center.rb) and the
  # decision types (lib/optimizely/helpers/constants.rb DECISION_NOTIFICATION_TYPES).
  module OptimizelySDK
    # The values of Optimizely::NotificationCenter::NOTIFICATION_TYPES in ruby-sdk 5.x, used when
    # the constant is not defined (the gem is not loaded, or a stand-in is used).
    DECISION_FALLBACK = "DECISION: type, user_id, attributes, decision_info"
    CONFIG_UPDATE_FALLBACK = "optimizely_config_update"

    # Decision types (the first listener argument).
    FLAG = "flag"
    FEATURE = "feature"
    FEATURE_TEST = "feature-test"
    AB_TEST = "ab-test"
    FEATURE_VARIABLE = "feature-variable"
    ALL_FEATURE_VARIABLES = "all-feature-variables"

    module_function

    def notification_types
      return nil unless defined?(::Optimizely::NotificationCenter::NOTIFICATION_TYPES)

      types = ::Optimizely::NotificationCenter::NOTIFICATION_TYPES
      types.is_a?(Hash) ? types : nil
    end

    # Optimizely::NotificationCenter::NOTIFICATION_TYPES[:DECISION]
    def decision_type
      notification_types&.fetch(:DECISION, nil) || DECISION_FALLBACK
    end

    # Optimizely::NotificationCenter::NOTIFICATION_TYPES[:OPTIMIZELY_CONFIG_UPDATE]
    def config_update_type
      notification_types&.fetch(:OPTIMIZELY_CONFIG_UPDATE, nil) || CONFIG_UPDATE_FALLBACK
    end

    # The datafile (JSON text) of an Optimizely::Project, or nil when it has none yet.
    #
    # ruby-sdk 5.x: project.config_manager.config is the DatafileProjectConfig, whose #datafile is
    # the JSON text; project.get_optimizely_config['datafile'] is the same text. An HTTP config
    # manager that is not ready yet would block (up to its blocking_timeout) in #config, so it is
    # skipped: its OPTIMIZELY_CONFIG_UPDATE notification pushes the datafile when it arrives.
    def datafile_of(project)
      if project.respond_to?(:config_manager) && (manager = project.config_manager)
        return nil if manager.respond_to?(:ready?) && !manager.ready?

        config = manager.respond_to?(:config) ? manager.config : nil
        return config.datafile if config.respond_to?(:datafile) && config.datafile
      elsif project.respond_to?(:get_optimizely_config)
        optimizely_config = project.get_optimizely_config
        return optimizely_config["datafile"] if optimizely_config.respond_to?(:[])
      end
      nil
    end
  end
end
