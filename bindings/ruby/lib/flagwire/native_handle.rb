# frozen_string_literal: true

require_relative "native"

module Flagwire
  # Owns one `FlagwireClient *` and makes its lifetime safe from Ruby:
  #
  # * every quick call runs under a Mutex with the pointer read inside it, so #close can never
  #   free the client under a concurrent call (a thread switch can happen between reading a
  #   pointer and calling through it);
  # * calls that wait (flush, set_datafile) release the GVL (`blocking: true`) and do NOT hold the
  #   Mutex while they run, so other threads' decisions go on; #close waits for them to return
  #   (they are bounded by their own deadlines) before it frees the client;
  # * #close is idempotent and serialized: the first caller shuts the client down, later (or
  #   concurrent) callers wait for it and return nil.
  #
  # The GC finalizer of a Client captures only this object (never the Client), so a client that is
  # garbage-collected without #close is still shut down, and at_exit closes what is still open.
  #
  # Internal: use {Flagwire::Client}.
  class NativeHandle
    # Extra time #close waits for in-flight waiting calls beyond its own timeout.
    CLOSE_GRACE = 1.0

    # Statuses the listener accepts without raising: queued, not an exposure, or dropped and
    # counted by the core (stats :dropped_queue_full / :dropped_too_large).
    LISTENER_ALLOW = [Status::OK, Status::SKIPPED, Status::QUEUE_FULL, Status::TOO_LARGE].freeze

    attr_reader :close_timeout

    def initialize(pointer, close_timeout)
      @ptr = pointer
      @close_timeout = close_timeout
      @lock = Mutex.new
      @idle = ConditionVariable.new
      @waiting_calls = 0
      @close_lock = Mutex.new
    end

    def closed?
      @ptr.nil?
    end

    # Calls Native.<fn>(client, *args) under the lock and checks the status (Native.check).
    def call(fn, *args, what:, allow: Status::SUCCESS)
      @lock.synchronize do
        ptr = @ptr or raise closed_error(what)
        Native.check(Native.public_send(fn, ptr, *args), what, client_ptr: ptr, allow: allow)
      end
    end

    # The listener's fast path, spelled out (no splat, no public_send, no keyword arguments): it
    # runs on every decision. The statuses the listener accepts (OK, SKIPPED, QUEUE_FULL,
    # TOO_LARGE) are returned without a call to Native.check; any other goes through it (it raises
    # with the core's message, read while the pointer is still live under the lock).
    def on_flag_decision(user_id, flag_key, rule_key, variation_key, enabled, dispatched, attributes_json)
      @lock.synchronize do
        ptr = @ptr or raise closed_error("listener")
        status = Native.flagwire_on_flag_decision(ptr, user_id, flag_key, rule_key, variation_key, enabled, dispatched, attributes_json)
        if status == Status::OK || status == Status::SKIPPED || status == Status::QUEUE_FULL || status == Status::TOO_LARGE
          status
        else
          Native.check(status, "listener", client_ptr: ptr, allow: LISTENER_ALLOW)
        end
      end
    end

    # Calls a function returning a library-owned string; returns it as a Ruby String (freed).
    def call_string(fn, what:)
      @lock.synchronize do
        ptr = @ptr or raise closed_error(what)
        Native.take_string(Native.public_send(fn, ptr))
      end
    end

    # For functions that wait (attached `blocking: true`): the lock is not held while they run.
    def call_waiting(fn, *args, what:, allow: Status::SUCCESS)
      ptr = @lock.synchronize do
        raise closed_error(what) unless @ptr

        @waiting_calls += 1
        @ptr
      end
      begin
        status = Native.public_send(fn, ptr, *args)
        # The pointer stays live until this call is counted out (close waits for it).
        Native.check(status, what, client_ptr: ptr, allow: allow)
      ensure
        @lock.synchronize do
          @waiting_calls -= 1
          @idle.broadcast if @waiting_calls.zero?
        end
      end
    end

    # Flushes (up to `timeout` seconds), stops the sender and frees the client.
    # true: everything was delivered (or failed for good); false: the deadline passed and the rest
    # was dropped; nil: it was already closed. Safe from several threads and from a trap handler.
    def close(timeout = @close_timeout)
      close_now(timeout)
    rescue ThreadError => e
      raise unless Flagwire.trap_context_error?(e)

      # Mutexes cannot be taken in a signal trap; do it on a helper thread.
      Thread.new { close_now(timeout) }.value
    end

    # The GC finalizer's close. Finalizers run with interrupts masked as in a signal trap: no Mutex
    # can be taken and no Thread created. None is needed: the Client is unreachable, so no call can
    # be in flight through it, and the only other closer (at_exit's close_all) is excluded by the
    # claim, an atomic Hash#delete under the GVL.
    def finalize
      return unless Flagwire.untrack(self)

      ptr = @ptr
      @ptr = nil
      Native.flagwire_shutdown(ptr, Flagwire.milliseconds(@close_timeout)) if ptr
      nil
    rescue StandardError
      nil
    end

    private

    def close_now(timeout)
      @close_lock.synchronize do
        ptr = take_pointer(timeout)
        return nil unless ptr

        status = Native.flagwire_shutdown(ptr, Flagwire.milliseconds(timeout))
        # The client is freed: its last error is gone, so no client_ptr here.
        Native.check(status, "close", allow: [Status::OK, Status::TIMEOUT]) == Status::OK
      end
    end

    # Marks the handle closed and returns the pointer once no waiting call uses it any more.
    def take_pointer(timeout)
      @lock.synchronize do
        ptr = @ptr
        # The claim: whoever removes the handle from the open set shuts it down, once.
        return nil unless ptr && Flagwire.untrack(self)

        @ptr = nil
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout + CLOSE_GRACE
        while @waiting_calls.positive?
          remaining = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
          break if remaining <= 0

          @idle.wait(@lock, remaining)
        end
        if @waiting_calls.positive?
          # Freeing it now would be a use-after-free in the waiting thread: leak it instead.
          warn "flagwire: close: a flush is still running after #{timeout + CLOSE_GRACE}s; " \
               "the client is left open (leaked) rather than freed under it"
          return nil
        end
        ptr
      end
    end

    def closed_error(what)
      ClosedError.new("flagwire: #{what}: the client is closed", status: Status::CLOSED)
    end
  end
end
