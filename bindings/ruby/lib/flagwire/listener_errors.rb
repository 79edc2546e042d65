# frozen_string_literal: true

module Flagwire
  # Errors of the listener (and of the hand-over of its decisions): counted in
  # stats[:listener_errors] and warned about once per kind, since the listener itself never raises
  # (in ruby-sdk the first exception skips every later listener). Never raises either: not in a
  # signal trap, where no Mutex can be taken, nor with a closed $stderr.
  class ListenerErrors
    def initialize
      @count = 0
      @lock = Mutex.new
      @warned = {}
    end

    attr_reader :count

    # Counts `decisions` lost to `error` (an exception or a message) and warns about the first
    # error. Returns nil (the listener's error result).
    def failed(error, decisions = 1)
      begin
        @lock.synchronize { @count += decisions }
      rescue ThreadError
        @count += decisions
      end
      warn_once(:listener, "flagwire: listener error (counted in stats[:listener_errors]; further ones " \
                           "are not printed): #{error.is_a?(Exception) ? "#{error.class}: #{error.message}" : error}")
    end

    # Warns once per `key` for this client, without counting. Returns nil.
    def warn_once(key, message)
      return nil if @warned[key]

      @warned[key] = true
      warn message
      nil
    rescue StandardError
      nil
    end
  end
end
