# frozen_string_literal: true

require "json"
require_relative "native_handle"
require_relative "optimizely"

module Flagwire
  # A flagwire client: a bounded queue and a background sender that turns Optimizely DECISION
  # notifications into Segment "Experiment Viewed" events (DESIGN.md).
  #
  #   client = Flagwire::Client.new(write_key: ENV.fetch("SEGMENT_WRITE_KEY"))
  #   client.attach(optimizely)          # DECISION listener + datafile on every config update
  #   ...
  #   client.close                       # or leave it to at_exit
  #
  # All methods are thread-safe. After #close every method raises Flagwire::ClosedError, except
  # the listener (which ignores the decision) and #close itself (which returns nil).
  class Client
    # Config keys of the core (DESIGN §3), passed through as JSON. write_key is the keyword.
    CORE_OPTIONS = %i[
      endpoint batch_size flush_interval_ms max_queue_events max_queue_bytes max_retries
      backoff_base_ms backoff_max_ms request_timeout_ms gzip event_name property_style
      include_attributes include_rollouts user_id_field honor_disable_decision_event
      allow_insecure_http proxy ca_certs_pem log_level profile
    ].freeze

    # Seconds #close (and at_exit, and the GC finalizer) waits for queued events to be delivered.
    DEFAULT_CLOSE_TIMEOUT = 5.0
    DEFAULT_FLUSH_TIMEOUT = 5.0

    # Statuses the listener accepts without raising (see NativeHandle::LISTENER_ALLOW), and what
    # it returns for them: indexed by status, so the hot path does no method call for it.
    LISTENER_ALLOW = NativeHandle::LISTENER_ALLOW
    LISTENER_RESULTS = Array.new(Status::TOO_LARGE + 1) { |status| Status.to_sym(status) if LISTENER_ALLOW.include?(status) }.freeze
    ENQUEUE_ALLOW = [Status::OK, Status::QUEUE_FULL, Status::TOO_LARGE].freeze

    FLAG = OptimizelySDK::FLAG
    # One reused generator state: JSON.generate builds a new one per call, which costs as much as
    # the generation itself. Compact output only, so sharing it between threads is harmless.
    JSON_STATE = JSON::State.new

    # JSON text of `obj` through JSON_STATE. json 2.x does not unwind State#depth when generation
    # raises (NaN, a bad encoding, ...), so reset it, or 100 errors would break every later call.
    def self.dump_json(obj)
      JSON_STATE.generate(obj)
    rescue StandardError
      JSON_STATE.depth = 0
      raise
    end

    # decision_info entries the core ignores (they can be large, or not JSON-serializable).
    IGNORED_INFO_KEYS = %i[variables reasons variable_key variable_type variable_value variable_values].freeze

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
    # @param options the core's config keys (DESIGN §3), e.g. endpoint:, batch_size:,
    #   flush_interval_ms:, property_style: ("both" | "optimizely" | "segment"), include_rollouts:,
    #   log_level:. Unknown keywords raise ArgumentError naming them.
    # @raise [Flagwire::ConfigError] when the core refuses the config (the message names the key).
    def initialize(write_key:, close_timeout: DEFAULT_CLOSE_TIMEOUT, **options)
      unknown = options.keys - CORE_OPTIONS
      unless unknown.empty?
        raise ArgumentError, "flagwire: unknown option#{'s' if unknown.size > 1} " \
                             "#{unknown.map(&:inspect).join(', ')} (known: write_key, close_timeout, " \
                             "#{CORE_OPTIONS.join(', ')})"
      end
      Flagwire.milliseconds(close_timeout) # validates it

      config = { write_key: write_key }.merge(options).compact
      out_client = FFI::MemoryPointer.new(:pointer)
      out_error = FFI::MemoryPointer.new(:pointer)
      status = Native.flagwire_init(JSON.generate(config), out_client, out_error)
      detail = Native.take_string(out_error.read_pointer)
      Native.check(status, "init", detail: detail, allow: [Status::OK])

      @native = NativeHandle.new(out_client.read_pointer, close_timeout)
      Flagwire.track(@native)
      ObjectSpace.define_finalizer(self, self.class.finalizer(@native))

      @datafile_pushed = false
      # With include_attributes: false the core drops them: do not serialize them at all.
      @send_attributes = options[:include_attributes] != false
      # With the defaults (honor_disable_decision_event on, include_rollouts off) the core skips
      # every flag decision with decision_event_dispatched false (DESIGN §4): no attributes' JSON
      # for those.
      @undispatched_are_skipped = options[:honor_disable_decision_event] != false && !options[:include_rollouts]
      @attachment = nil
      @attach_lock = Mutex.new
      @listener_errors = 0
      @errors_lock = Mutex.new
      @warned = {}
      @listener = method(:on_decision)
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

    # The DECISION listener itself. Never raises (in ruby-sdk the first exception skips every later
    # listener): errors are counted in stats[:listener_errors] and warned about once.
    #
    # @return [Symbol, nil] :ok (an event was queued), :skipped (not an exposure), :queue_full or
    #   :too_large (dropped and counted), nil after an error or after #close.
    def on_decision(type = nil, user_id = nil, attributes = nil, decision_info = nil)
      info = decision_info
      status =
        if type == FLAG && info.is_a?(Hash) && (flag_key = info[:flag_key]) &&
           (@datafile_pushed || info[:experiment_id].nil?)
          # Fast path. Without a datafile it is only taken when the SDK sent no experiment id:
          # flagwire_on_flag_decision has no id parameters, and the JSON path keeps them.
          rule_key = info[:rule_key]
          variation_key = info[:variation_key]
          dispatched = info[:decision_event_dispatched]
          # The attributes' JSON (the listener's largest cost) only for a decision the core may
          # turn into an event: it skips, whatever the datafile says, a decision without a rule or
          # variation key, and (DESIGN §4 rule 2, with include_rollouts off) one whose decision
          # event was not dispatched, e.g. every rollout decision when sendFlagDecisions is off.
          attributes_json =
            if @send_attributes && attributes && !attributes.empty? && rule_key && variation_key &&
               (dispatched != false || !@undispatched_are_skipped)
              Client.dump_json(attributes)
            end
          @native.on_flag_decision(user_id, flag_key, rule_key, variation_key, info[:enabled] ? 1 : 0,
                                   dispatched.nil? ? -1 : (dispatched ? 1 : 0), attributes_json)
        else
          @native.call(:flagwire_on_decision, notification_json(type, user_id, attributes, info),
                       what: "listener", allow: LISTENER_ALLOW)
        end
      LISTENER_RESULTS[status]
    rescue ClosedError
      listener_note(:closed, "flagwire: a decision arrived after close and was ignored (detach before closing)")
    rescue StandardError => e
      listener_note(:listener, "flagwire: listener error (counted in stats[:listener_errors]; " \
                               "further ones are not printed): #{e.class}: #{e.message}", count: true)
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
    # from it. #attach does this on attach and on every config update.
    # @raise [Flagwire::InvalidInputError] for an invalid datafile (the previous one is kept).
    def set_datafile(datafile)
      json = datafile.is_a?(String) ? datafile : Client.dump_json(datafile)
      @native.call_waiting(:flagwire_set_datafile, json, what: "set_datafile", allow: [Status::OK])
      @datafile_pushed = true
    end

    # Queues any Segment message (track, identify, page, screen, group, alias), as a Hash or JSON
    # text. messageId, timestamp and context.library are filled in when absent.
    # @return [Boolean] true when queued, false when dropped (queue full, or over 32 KB; counted).
    # @raise [Flagwire::InvalidInputError] when it is not a valid Segment message.
    def enqueue(message)
      json = message.is_a?(String) ? message : Client.dump_json(message)
      @native.call(:flagwire_enqueue, json, what: "enqueue", allow: ENQUEUE_ALLOW) == Status::OK
    end

    # Waits until every event queued before the call is delivered (or has failed for good).
    # Other Ruby threads keep running meanwhile.
    # @return [Boolean] true when done, false when `timeout` (seconds) passed first (nothing is lost).
    def flush(timeout: DEFAULT_FLUSH_TIMEOUT)
      @native.call_waiting(:flagwire_flush, Flagwire.milliseconds(timeout), what: "flush",
                                                                            allow: [Status::OK, Status::TIMEOUT]) == Status::OK
    end

    # Counters since init in this process (DESIGN §6) plus :listener_errors (this binding's).
    # @return [Hash{Symbol=>Integer}] :decisions, :exposures, :skipped, :enqueued,
    #   :dropped_queue_full, :dropped_invalid, :dropped_too_large, :delivered, :failed, :retries,
    #   :batches, :bytes_sent, :queue_depth, :listener_errors
    def stats
      json = @native.call_string(:flagwire_stats, what: "stats")
      raise InternalError, "flagwire: stats: the library returned NULL" unless json

      JSON.parse(json, symbolize_names: true).merge(listener_errors: @listener_errors)
    end

    # Segment Profile API (DESIGN §7; needs the `profile:` option): the profile's traits as
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
      json = profile_lookup(:flagwire_profile_attributes, "profile_attributes", identifier, by_type)
      json && JSON.parse(json)
    end

    # Segment Profile API: the profile's user_id external id, the canonical id to bucket on across
    # platforms (e.g. for a visitor known by anonymous_id). Same identifier, caching and statuses
    # as #profile_attributes. @return [String, nil]
    def profile_user_id(identifier = nil, **by_type)
      profile_lookup(:flagwire_profile_user_id, "profile_user_id", identifier, by_type)
    end

    # The last error the core recorded on this client (any thread), or nil.
    def last_error
      @native.call_string(:flagwire_last_error, what: "last_error")
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
      @native.close(timeout)
    end

    PROFILE_ALLOW = [Status::OK, Status::NOT_FOUND, Status::UNAVAILABLE].freeze

    def profile_lookup(fn, what, identifier, by_type)
      identifier = Client.profile_identifier(identifier, by_type)
      out = FFI::MemoryPointer.new(:pointer) # NULL until the core writes a string (OK only)
      begin
        status = @native.call_waiting(fn, identifier, out, what: what, allow: PROFILE_ALLOW)
      ensure
        text = Native.take_string(out.read_pointer) # read and freed whatever happened
      end
      status == Status::OK ? text : nil
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

    # The whole notification as JSON for flagwire_on_decision (legacy types, and flag decisions
    # carrying ids while no datafile is known), in ruby-sdk's snake_case.
    def notification_json(type, user_id, attributes, info)
      info = info.except(*IGNORED_INFO_KEYS) if info.is_a?(Hash)
      Client.dump_json({ "type" => type, "user_id" => user_id, "attributes" => attributes, "decision_info" => info })
    end

    # The OPTIMIZELY_CONFIG_UPDATE listener body (and attach's first push). Never raises.
    def push_datafile_from(project)
      datafile = OptimizelySDK.datafile_of(project)
      set_datafile(datafile) if datafile
    rescue ClosedError
      nil
    rescue StandardError => e
      warn_once(:datafile, "flagwire: could not push the Optimizely datafile (rules are classified " \
                           "without it until the next config update): #{e.class}: #{e.message}")
      nil
    end

    def check_listener_id!(id, what)
      return if id.is_a?(Integer) && id.positive?

      reason = id == -1 ? "this listener is already registered" : "the notification type or callback was refused"
      raise Error, "flagwire: attach: add_notification_listener(#{what}) returned #{id.inspect}: #{reason}"
    end

    # Counts and warns for the listener; itself never raises (not even in a signal trap, where no
    # Mutex can be taken, or with a closed $stderr). Returns nil, the listener's error result.
    def listener_note(key, message, count: false)
      if count
        begin
          @errors_lock.synchronize { @listener_errors += 1 }
        rescue ThreadError
          @listener_errors += 1
        end
      end
      warn_once(key, message)
      nil
    rescue StandardError
      nil
    end

    def warn_once(key, message)
      return if @warned[key]

      @warned[key] = true
      warn message
    end
  end
end
