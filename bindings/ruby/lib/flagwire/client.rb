# frozen_string_literal: true

require "json"
require_relative "native_handle"
require_relative "decision_record"
require_relative "decision_batcher"
require_relative "listener_errors"
require_relative "json_text"
require_relative "log_bridge"
require_relative "optimizely"

module Flagwire
  # A flagwire client: a bounded queue and a background sender that turns Optimizely DECISION
  # notifications into Segment "Experiment Viewed" events (docs/design.md).
  #
  #   client = Flagwire::Client.new(write_key: ENV.fetch("SEGMENT_WRITE_KEY"))
  #   client.attach(optimizely)          # DECISION listener + datafile on every config update
  #   ...
  #   client.close                       # or leave it to at_exit
  #
  # All methods are thread-safe. After #close every method raises Flagwire::ClosedError, except
  # the listener (which ignores the decision) and #close itself (which returns nil).
  class Client
    # Seconds #close (and at_exit, and the GC finalizer) waits for queued events to be delivered.
    DEFAULT_CLOSE_TIMEOUT = 5.0
    DEFAULT_FLUSH_TIMEOUT = 5.0

    LISTENER = "listener"
    # Statuses the listener accepts without raising: queued, not an exposure, or dropped and
    # counted by the core (stats :dropped_queue_full / :dropped_too_large); and what it returns
    # for them, indexed by status so the hot path makes no method call for it.
    LISTENER_ALLOW = [Status::OK, Status::SKIPPED, Status::QUEUE_FULL, Status::TOO_LARGE].freeze
    LISTENER_RESULTS = Array.new(Status::TOO_LARGE + 1) { |status| Status.to_sym(status) if LISTENER_ALLOW.include?(status) }.freeze
    ENQUEUE_ALLOW = [Status::OK, Status::QUEUE_FULL, Status::TOO_LARGE].freeze
    FLUSH_ALLOW = [Status::OK, Status::TIMEOUT].freeze
    PROFILE_ALLOW = [Status::OK, Status::NOT_FOUND, Status::UNAVAILABLE].freeze

    FLAG = OptimizelySDK::FLAG

    # The attachment made by #attach: the notification center and the two listener ids.
    Attachment = Struct.new(:client, :notification_center, :decision_listener_id, :config_update_listener_id) do
      # Removes both listeners (same as client.detach).
      def detach
        client.detach
      end
    end

    # Builds the finalizer without capturing the Client: only its handle.
    def self.finalizer(handle)
      proc { handle.finalize }
    end

    # @param write_key [String] Segment source write key (required; never logged).
    # @param close_timeout [Numeric] seconds #close, at_exit and the finalizer wait to deliver.
    # @param logger [Logger] where the core's log lines go (docs/design.md §2.4); default a Logger
    #   on $stderr at the level of `log_level`. Any object with Logger#add(severity, message, progname).
    # @param options the core's config keys (docs/design.md §3), passed through as JSON, e.g.
    #   endpoint:, batch_size:, flush_interval_ms:, property_style: ("both" | "optimizely" |
    #   "segment"), include_rollouts:, log_level: ("off" | "error" | "warn" | "info" | "debug").
    #   `nil` means the default.
    # @raise [Flagwire::ConfigError] when the core refuses the config, an unknown key included
    #   (the message names the key).
    def initialize(write_key:, close_timeout: DEFAULT_CLOSE_TIMEOUT, logger: nil, **options)
      Flagwire.milliseconds(close_timeout) # validates it
      LogBridge.validate!(logger) if logger

      config = { write_key: write_key }.merge(options).compact
      out_client = FFI::MemoryPointer.new(:pointer)
      out_error = FFI::MemoryPointer.new(:pointer)
      status = Native.flagwire_init(JSON.generate(config), out_client, out_error)
      Native.check(status, "init", detail: Native.take_error(out_error), allow: [Status::OK])

      @native = NativeHandle.new(out_client.read_pointer, close_timeout)
      @errors = ListenerErrors.new
      @batcher = DecisionBatcher.new(@native, @errors)
      Flagwire.track(@native, @batcher)
      ObjectSpace.define_finalizer(self, self.class.finalizer(@native))
      @native.log_to(LogBridge.callback(logger || LogBridge.default_logger(options[:log_level] || "warn")))

      @attachment = nil
      @attach_lock = Mutex.new
      @listener = method(:queue_decision)
    end

    # One client owns one native handle: a copy would close it twice.
    def initialize_copy(_other)
      raise TypeError, "a Flagwire::Client cannot be copied"
    end

    # The DECISION listener: a callable with ruby-sdk's signature
    # `(type, user_id, attributes, decision_info)`, for
    # `notification_center.add_notification_listener(NOTIFICATION_TYPES[:DECISION], client.listener)`.
    # #attach registers it for you. Always the same object (the SDK refuses duplicates).
    attr_reader :listener

    # What the listener calls. It only converts (docs/design.md §8); the core decides what is an
    # exposure. A "flag" decision is kept with its decision time and handed to the core off this
    # thread, as a decision record (DecisionBatcher); any other notification goes as JSON now.
    # Never raises (in ruby-sdk the first exception skips every later listener): errors are
    # counted in stats[:listener_errors] and warned about once; the core counts the decisions it
    # refuses in stats[:dropped_invalid].
    #
    # @return [Symbol, nil] :queued for a flag decision (flush or stats hand it over at once);
    #   otherwise as #on_decision.
    def queue_decision(type = nil, user_id = nil, attributes = nil, decision_info = nil)
      return :queued if type == FLAG && decision_info.is_a?(Hash) && @batcher.add(self, user_id, attributes, decision_info)

      on_decision(type, user_id, attributes, decision_info) # not a flag decision, or MAX_PENDING wait
    rescue ClosedError
      closed_note
    rescue StandardError => e
      @errors.failed(e)
    end

    # Hands one DECISION notification to the core now and returns its answer: a "flag" decision as
    # a decision record, any other as JSON. Never raises, like the listener.
    #
    # @return [Symbol, nil] :ok (an event was queued), :skipped (not an exposure), :queue_full or
    #   :too_large (dropped and counted), nil after an error or after #close.
    def on_decision(type = nil, user_id = nil, attributes = nil, decision_info = nil)
      LISTENER_RESULTS[decide_now(type, user_id, attributes, decision_info)]
    rescue ClosedError
      closed_note
    rescue StandardError => e
      @errors.failed(e)
    end

    # Registers the DECISION listener and an OPTIMIZELY_CONFIG_UPDATE listener (which pushes the
    # datafile on every config update) on an Optimizely::Project, and pushes the datafile now.
    #
    # @return [Attachment] (also #detach on the client)
    # @raise [Flagwire::Error] when already attached (a second listener would double every event),
    #   or when another flagwire client is attached to the same project, or the SDK refuses.
    def attach(project)
      unless project.respond_to?(:notification_center) && project.notification_center
        raise ArgumentError, "flagwire: attach needs an Optimizely::Project (an object with #notification_center)"
      end

      center = project.notification_center
      @attach_lock.synchronize do
        raise ClosedError.new("flagwire: attach: the client is closed", status: Status::CLOSED) if closed?
        if @attachment
          raise Error, "flagwire: attach: this client is already attached; call detach first " \
                       "(two listeners would send every exposure twice)"
        end
        other = Flagwire.attached_client(center)
        if other && !other.equal?(self)
          raise Error, "flagwire: attach: another Flagwire::Client is already attached to this " \
                       "Optimizely project (two listeners would send every exposure twice)"
        end

        decision_id = center.add_notification_listener(OptimizelySDK.decision_type, @listener)
        check_listener_id!(decision_id, "DECISION")
        config_listener = ->(*_args) { push_datafile_from(project) }
        begin
          config_id = center.add_notification_listener(OptimizelySDK.config_update_type, config_listener)
          check_listener_id!(config_id, "OPTIMIZELY_CONFIG_UPDATE")
        rescue StandardError
          center.remove_notification_listener(decision_id)
          raise
        end
        @attachment = Attachment.new(self, center, decision_id, config_id)
        Flagwire.attached(center, self)
      end
      push_datafile_from(project)
      @attachment
    end

    # Removes the listeners #attach registered. @return [Boolean] false when not attached.
    def detach
      @attach_lock.synchronize do
        attachment = @attachment or return false

        @attachment = nil
        center = attachment.notification_center
        Flagwire.detached(center, self)
        center.remove_notification_listener(attachment.decision_listener_id)
        center.remove_notification_listener(attachment.config_update_listener_id)
        true
      end
    end

    def attached?
      !@attachment.nil?
    end

    # @api private
    def attached_to?(center)
      attachment = @attachment
      !attachment.nil? && attachment.notification_center.equal?(center)
    end

    # Gives the core the Optimizely datafile (JSON text, or a Hash) so rules are classified per flag
    # from it. #attach does this on attach and on every config update. The GVL is released while
    # the core indexes it.
    # @raise [Flagwire::InvalidInputError] for an invalid datafile (the previous one is kept).
    def set_datafile(datafile)
      json = datafile.is_a?(String) ? datafile : JsonText.generate(datafile)
      copy = Native.copy(json)
      @native.call_waiting("set_datafile") do |ptr, out_error|
        Native.flagwire_set_datafile_json(ptr, copy, json.bytesize, out_error)
      end
      true
    end

    # Queues any Segment message (track, identify, page, screen, group, alias), as a Hash or JSON
    # text. messageId, timestamp and context.library are filled in when absent.
    # @return [Boolean] true when queued, false when dropped (queue full, or over 32 KB; counted).
    # @raise [Flagwire::InvalidInputError] when it is not a valid Segment message.
    def enqueue(message)
      json = message.is_a?(String) ? message : JsonText.generate(message)
      @native.call("enqueue", ENQUEUE_ALLOW) do |ptr, out_error|
        Native.flagwire_enqueue_json(ptr, json, json.bytesize, out_error)
      end == Status::OK
    end

    # Hands the listener's pending decisions over, then waits until every event queued before the
    # call is delivered (or has failed for good). Other Ruby threads keep running meanwhile.
    # @return [Boolean] true when done, false when `timeout` (seconds) passed first (nothing is lost).
    def flush(timeout: DEFAULT_FLUSH_TIMEOUT)
      ms = Flagwire.milliseconds(timeout)
      @batcher.drain
      @native.call_waiting("flush", FLUSH_ALLOW) { |ptr, _out_error| Native.flagwire_flush(ptr, ms) } == Status::OK
    end

    # Counters since init in this process (docs/design.md §6) plus :listener_errors (this binding's).
    # @return [Hash{Symbol=>Object}] Integers: :decisions, :exposures, :skipped, :enqueued,
    #   :dropped_queue_full, :dropped_invalid, :dropped_too_large, :delivered, :failed, :retries,
    #   :batches, :bytes_sent, :queue_depth, :deduplicated, :held, :spooled, ..., :listener_errors;
    #   and :exposures_by_variation, an Array of {flag_key:, rule_key:, variation_key:, exposures:}
    def stats
      @batcher.drain # the counters then include every decision the listener has seen
      json = nil
      @native.call("stats") do |ptr, _out_error|
        json = Native.take_string(Native.flagwire_stats(ptr))
        json ? Status::OK : Status::PANIC # NULL only for a panic caught at the boundary
      end
      JSON.parse(json, symbolize_names: true).merge(listener_errors: @errors.count)
    end

    # Segment Profile API (docs/design.md §7; needs the `profile:` option): the profile's traits as
    # Optimizely attributes, to pass to create_user_context. Cached (TTL + LRU) in the core; a miss
    # waits at most profile timeout_ms, on this thread only (the GVL is released).
    #
    #   attributes = flagwire.profile_attributes(user_id: "u-123") || {}
    #   optimizely.create_user_context("u-123", attributes).decide("checkout_flow")
    #
    # @param identifier [String] "<type>:<value>", e.g. "user_id:u-123"; or one keyword, e.g.
    #   user_id: "u-123", anonymous_id: "a-1", email: "x@example.com"
    # @return [Hash, nil] String keys (plus "$opt_bucketing_id" with account_bucketing); nil when
    #   there is no such profile or the API is unavailable: decide without enrichment then.
    # @raise [Flagwire::ConfigError] without a `profile` config; InvalidInputError for a malformed identifier
    def profile_attributes(identifier = nil, **by_type)
      json = profile_lookup(Native::ProfileField::ATTRIBUTES, "profile_attributes", identifier, by_type)
      json && JSON.parse(json)
    end

    # Segment Profile API: the profile's user_id external id, the canonical id to bucket on across
    # platforms (e.g. for a visitor known by anonymous_id). Same identifier, caching and statuses
    # as #profile_attributes. @return [String, nil]
    def profile_user_id(identifier = nil, **by_type)
      profile_lookup(Native::ProfileField::USER_ID, "profile_user_id", identifier, by_type)
    end

    # The core's message for the last call on this client (any thread) that failed, or nil. Errors
    # raised carry their own message; this is for the listener, which never raises.
    def last_error
      raise ClosedError.new("flagwire: last_error: the client is closed", status: Status::CLOSED) if closed?

      @native.last_error
    end

    # Detaches, flushes (up to `timeout` seconds), stops the sender thread and frees the client.
    # Idempotent and thread-safe.
    # @return [Boolean, nil] true when everything was delivered, false when the deadline passed
    #   (the rest is dropped), nil when it was already closed.
    def close(timeout: @native.close_timeout)
      Flagwire.milliseconds(timeout)
      close_now(timeout)
    rescue ThreadError => e
      raise unless Flagwire.trap_context_error?(e)

      # Called from a signal trap, where no Mutex can be taken: close on a helper thread.
      Thread.new { close_now(timeout) }.value
    end

    def closed?
      @native.closed?
    end

    def inspect
      "#<#{self.class.name} #{closed? ? 'closed' : 'open'}#{' attached' if attached?}>"
    end

    private

    def close_now(timeout)
      begin
        detach
      rescue StandardError => e
        raise if Flagwire.trap_context_error?(e)

        warn "flagwire: close: detach failed: #{e.class}: #{e.message}"
      end
      @batcher.close(timeout) # the listener's pending decisions first
      @native.close(timeout)
    end

    # One notification to the core now; returns its status (see #on_decision).
    def decide_now(type, user_id, attributes, decision_info)
      if type == FLAG && decision_info.is_a?(Hash)
        attributes_json = JsonText.generate(attributes) if attributes && !attributes.empty?
        @native.call(LISTENER, LISTENER_ALLOW) do |ptr, out_error, record|
          DecisionRecord.write(record, user_id, decision_info, attributes_json)
          Native.flagwire_on_decision_record(ptr, record.pointer, record.size, out_error)
        end
      else
        # Legacy types (feature, feature-test, ab-test, ...), which records do not carry: the
        # whole notification, in ruby-sdk's snake_case, which the core reads (docs/design.md §4).
        json = JsonText.generate({ "type" => type, "user_id" => user_id, "attributes" => attributes,
                                   "decision_info" => decision_info })
        @native.call(LISTENER, LISTENER_ALLOW) do |ptr, out_error|
          Native.flagwire_on_notification_json(ptr, json, json.bytesize, out_error)
        end
      end
    end

    def closed_note
      @errors.warn_once(:closed, "flagwire: a decision arrived after close and was ignored (detach before closing)")
    end

    def profile_lookup(field, what, identifier, by_type)
      identifier = Client.profile_identifier(identifier, by_type)
      copy = Native.copy(identifier)
      out_value = FFI::MemoryPointer.new(:pointer) # NULL until the core writes a string (OK only)
      begin
        status = @native.call_waiting(what, PROFILE_ALLOW) do |ptr, out_error|
          Native.flagwire_profile_lookup(ptr, field, copy, identifier.bytesize, out_value, out_error)
        end
      ensure
        value = Native.take_string(out_value.read_pointer) # read and freed whatever happened
      end
      status == Status::OK ? value : nil
    end

    # @api private: "type:value" from a String or one keyword (user_id: "u" -> "user_id:u").
    def self.profile_identifier(identifier, by_type)
      if identifier && by_type.empty?
        return identifier if identifier.is_a?(String)
      elsif identifier.nil? && by_type.size == 1
        type, value = by_type.first
        return "#{type}:#{value}"
      end
      raise ArgumentError, "flagwire: a profile identifier is a String \"<type>:<value>\" or one keyword, " \
                           "e.g. user_id: \"u-123\"; got #{identifier.inspect} #{by_type.inspect}"
    end

    # The OPTIMIZELY_CONFIG_UPDATE listener body (and attach's first push). Never raises.
    def push_datafile_from(project)
      datafile = OptimizelySDK.datafile_of(project)
      set_datafile(datafile) if datafile
    rescue ClosedError
      nil
    rescue StandardError => e
      @errors.warn_once(:datafile, "flagwire: could not push the Optimizely datafile (rules are classified " \
                                   "without it until the next config update): #{e.class}: #{e.message}")
    end

    def check_listener_id!(id, what)
      return if id.is_a?(Integer) && id.positive?

      reason = id == -1 ? "this listener is already registered" : "the notification type or callback was refused"
      raise Error, "flagwire: attach: add_notification_listener(#{what}) returned #{id.inspect}: #{reason}"
    end
  end
end
