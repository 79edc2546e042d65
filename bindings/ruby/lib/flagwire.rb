# frozen_string_literal: true

# flagwire: Optimizely Feature Experimentation decisions to Segment "Experiment Viewed" events,
# through the flagwire native core (libflagwire, loaded with the ffi gem).
#
#   require "flagwire"
#   flagwire = Flagwire::Client.new(write_key: ENV.fetch("SEGMENT_WRITE_KEY"))
#   flagwire.attach(optimizely_client)
#
# See README.md.

require_relative "flagwire/version"
require_relative "flagwire/errors"
require_relative "flagwire/native"
require_relative "flagwire/native_handle"
require_relative "flagwire/decision_record"
require_relative "flagwire/log_bridge"
require_relative "flagwire/optimizely"
require_relative "flagwire/client"

module Flagwire
  # Prepended to Process' singleton class (Process._fork, Ruby >= 3.1): runs in the child of fork,
  # Process.fork, Kernel#fork and IO.popen("-"), before any of the child's own code.
  module ForkHook
    def _fork
      pid = super
      Flagwire.after_fork_in_child if pid.zero?
      pid
    end
  end

  # Clients not closed yet, closed by at_exit: handle => the DecisionBatcher of its listener.
  # Neither references the Client, so an abandoned Client can still be garbage-collected (its
  # finalizer closes the handle). Plain Hash operations are atomic under the GVL: no Mutex, so a
  # finalizer can never deadlock here.
  @open_handles = {}
  @at_exit_installed = false
  # notification center -> attached Client, weakly held on both sides.
  @attachments = ObjectSpace::WeakMap.new

  class << self
    # The library's version, e.g. "0.1.0".
    def version
      Native.flagwire_version
    end

    # The library's ABI version (checked against Flagwire::ABI_VERSION when the gem loads).
    def abi_version
      Native.flagwire_abi_version
    end

    # The path the library was loaded from.
    def library_path
      Native::LIBRARY_PATH
    end

    # Closes every client of this process still open (at_exit does this; forked children too):
    # its listener's pending decisions are handed over, then the client is flushed and freed.
    # @return [Integer] how many were closed.
    def close_all(timeout: nil)
      open = @open_handles.to_a
      open.each do |handle, batcher|
        seconds = timeout || handle.close_timeout
        batcher.close(seconds)
        handle.close(seconds)
      rescue StandardError => e
        warn "flagwire: closing a client failed: #{e.class}: #{e.message}"
      end
      open.size
    end

    # Number of clients of this process not closed yet.
    def open_clients
      @open_handles.size
    end

    # Seconds (Numeric) -> milliseconds for the C ABI (uint32).
    def milliseconds(seconds)
      unless seconds.is_a?(Numeric) && !seconds.negative? && seconds.finite?
        raise ArgumentError, "flagwire: a timeout must be a non-negative number of seconds, got #{seconds.inspect}"
      end

      (seconds * 1000).round.clamp(0, 0xFFFF_FFFF)
    end

    # @api private: Mutex#lock raises this ThreadError inside a signal trap.
    def trap_context_error?(error)
      error.is_a?(ThreadError) && error.message.include?("trap context")
    end

    # @api private: runs in the child of every fork (ForkHook).
    def after_fork_in_child
      @open_handles.each do |handle, batcher|
        handle.after_fork_in_child
        batcher.after_fork_in_child
      end
      LogBridge.after_fork_in_child
    rescue StandardError => e
      warn "flagwire: after fork: #{e.class}: #{e.message}"
    end

    # @api private
    def track(handle, batcher)
      unless @at_exit_installed
        @at_exit_installed = true
        # Installed with the first client (not at require time), so that it runs after at_exit
        # handlers registered earlier, e.g. a test runner's.
        at_exit { close_all }
      end
      @open_handles[handle] = batcher
    end

    # @api private
    def untrack(handle)
      @open_handles.delete(handle)
    end

    # @api private
    def attached_client(center)
      client = @attachments[center]
      client if client && !client.closed? && client.attached_to?(center)
    rescue StandardError
      nil
    end

    # @api private
    def attached(center, client)
      @attachments[center] = client
    end

    # @api private
    def detached(center, client)
      @attachments[center] = nil if @attachments[center].equal?(client)
    rescue StandardError
      nil
    end
  end
end

Process.singleton_class.prepend(Flagwire::ForkHook)
