# frozen_string_literal: true

module Flagwire
  # Status codes of the C ABI (docs/design.md §2.6, include/flagwire.h FLAGWIRE_STATUS_*). Stable
  # numbers, only ever appended; test_native.rb checks this table against the header.
  module Status
    OK = 0
    SKIPPED = 1
    NULL_ARGUMENT = 2
    INVALID_UTF8 = 3
    INVALID_JSON = 4
    INVALID_CONFIG = 5
    QUEUE_FULL = 6
    TOO_LARGE = 7
    CLOSED = 8
    TIMEOUT = 9
    PANIC = 10
    NOT_FOUND = 11
    UNAVAILABLE = 12
    INVALID_ARGUMENT = 13

    # Status number -> Symbol (:ok, :skipped, ...), as the listener returns them.
    SYMBOLS = constants.to_h { |name| [const_get(name), name.to_s.downcase.to_sym] }.freeze

    # Statuses that are not errors for a decision: queued, or valid but not an exposure.
    SUCCESS = [OK, SKIPPED].freeze

    SYMBOL_LIST = (0..SYMBOLS.keys.max).map { |n| SYMBOLS[n] }.freeze

    def self.to_sym(status)
      (status >= 0 && SYMBOL_LIST[status]) || :"unknown_#{status}"
    end
  end

  # Base class of every error this gem raises (load failures, ABI mismatch, refused calls).
  class Error < StandardError
    # The FlagwireStatus number, or nil when the error did not come from a library call.
    attr_reader :status

    def initialize(message = nil, status: nil)
      @status = status
      super(message)
    end

    # :invalid_config, :closed, ... (nil when there is no status).
    def status_name
      status && Status.to_sym(status)
    end
  end

  # The library could not be found or loaded, or its ABI version is not the one this gem expects.
  class LibraryError < Error; end

  # Client.new was given a config the core refused (INVALID_CONFIG); the message names the key.
  class ConfigError < Error; end

  # The client was closed: no call reaches the library after #close.
  class ClosedError < Error; end

  # An argument the core refused: not valid UTF-8, not valid JSON, not of the expected shape, or a
  # malformed decision record (INVALID_ARGUMENT).
  class InvalidInputError < Error; end

  # Any other status (PANIC: an internal bug caught at the library boundary; the client keeps working).
  class InternalError < Error; end
end
