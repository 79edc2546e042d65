# frozen_string_literal: true

require "logger"
require_relative "native"

module Flagwire
  # Routes the core's log lines (docs/design.md §2.4) into a Ruby Logger.
  #
  # The core calls the callback on its own threads (the sender's, mostly), which Ruby does not
  # know: the ffi gem hands such calls to its callback dispatcher thread, which runs them on a Ruby
  # thread holding the GVL while the native thread waits. Lines logged during a call made from Ruby
  # (e.g. a dropped event's warning) run inline on the calling thread. Either way an exception
  # never reaches C: the callback rescues StandardError itself, and ffi rescues anything else
  # (re-raising it in the Ruby caller, if there is one, once the C function has returned).
  module LogBridge
    PROGNAME = "flagwire"

    # FlagwireLogLevel -> Logger severity.
    SEVERITIES = {
      Native::LogLevel::ERROR => Logger::ERROR,
      Native::LogLevel::WARN => Logger::WARN,
      Native::LogLevel::INFO => Logger::INFO,
      Native::LogLevel::DEBUG => Logger::DEBUG
    }.freeze

    # The config's log_level (docs/design.md §3) -> the default Logger's level, so the default
    # Logger shows what the core produces. The core validates the value (init fails on another).
    LOGGER_LEVELS = {
      "off" => Logger::UNKNOWN, "error" => Logger::ERROR, "warn" => Logger::WARN,
      "info" => Logger::INFO, "debug" => Logger::DEBUG
    }.freeze

    module_function

    # The Logger a client uses without a `logger:` option: $stderr, at the config's log_level.
    def default_logger(log_level)
      Logger.new($stderr, level: LOGGER_LEVELS.fetch(log_level.to_s, Logger::WARN), progname: PROGNAME)
    end

    # Raises ArgumentError unless `logger` can take lines the way Logger does.
    def validate!(logger)
      return logger if logger.respond_to?(:add)

      raise ArgumentError, "flagwire: logger: must be a Logger (an object with #add(severity, message, progname)), " \
                           "got #{logger.inspect}"
    end

    # The FFI::Function to register with flagwire_set_log_callback. It captures only the logger
    # (never the Client, so an abandoned client can still be finalized). The caller keeps it
    # referenced for as long as the native client may call it: until flagwire_shutdown returns.
    def callback(logger)
      @callbacks_made = true
      FFI::Function.new(:void, %i[pointer int pointer size_t]) do |_user_data, level, message, length|
        line = message.read_bytes(length).force_encoding(Encoding::UTF_8)
        begin
          logger.add(SEVERITIES.fetch(level, Logger::UNKNOWN), line, PROGNAME)
        rescue StandardError
          # A failing logger must not disturb the core's thread or the caller's: the line goes
          # where the core would have written it without a callback.
          $stderr.write("flagwire: #{line}\n")
        end
      rescue StandardError
        nil
      end
    end

    # ffi before 1.17.1 does not restart its callback dispatcher thread in a forked child (ffi
    # commit 1f4989f, "callbacks registered before fork will never actually fire after forking,
    # and just hang forever"): the child's sender thread would wait forever in its first log
    # line, and the child's close with it. Creating an FFI::Function from a block starts a new
    # dispatcher there, so the child does that right after fork (Flagwire.after_fork_in_child),
    # as ffi 1.17.1 does itself.
    def after_fork_in_child
      return if FFI.respond_to?(:_async_cb_dispatcher_atfork_child) # ffi >= 1.17.1 does it

      FFI::Function.new(:void, []) {} if @callbacks_made
    end
  end
end
