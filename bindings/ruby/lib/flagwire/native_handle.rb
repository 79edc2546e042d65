# frozen_string_literal: true

require_relative "native"
require_relative "decision_record"

module Flagwire
  # Owns one `FlagwireClient *`, and the log callback registered on it, and makes their lifetime
  # safe from Ruby. Every call into the library goes through one of its two call helpers (uniffi's
  # `callWithHandle` shape): acquire the handle (or raise ClosedError), call, check the status,
  # turn the call's `out_error` into a Flagwire::Error and free it, release.
  #
  # * #call, for calls that never block: runs under a Mutex with the pointer read inside it, so
  #   #close can never free the client under a concurrent call (a thread switch can happen between
  #   reading a pointer and calling through it). One `out_error` slot and one RecordBuffer serve
  #   them all.
  # * #call_waiting, for calls that release the GVL (flush, the datafile, the Profile API): does NOT
  #   hold the Mutex while the call runs, so other threads' decisions go on; #close waits for them
  #   (they are bounded by their own deadlines) before it frees the client.
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

    # Native memory of clients left open on purpose (see #take_pointer): their log callbacks
    # must never be freed.
    @leaked_callbacks = []
    class << self
      attr_reader :leaked_callbacks
    end

    attr_reader :close_timeout

    def initialize(pointer, close_timeout)
      @ptr = pointer
      @close_timeout = close_timeout
      @lock = Mutex.new
      @idle = ConditionVariable.new
      @waiting_calls = 0
      @close_lock = Mutex.new
      # The `char **out_error` of calls made under @lock (the core writes it only on failure).
      @out_error = FFI::MemoryPointer.new(:pointer)
      # Where #call's callers write a decision record (under @lock, like the slot).
      @scratch = RecordBuffer.new
      @log_callback = nil
      @last_error = nil
    end

    # The core's message for the last call of this client that failed, or nil.
    attr_reader :last_error

    def closed?
      @ptr.nil?
    end

    # Registers `callback` (an FFI::Function) as this client's log callback and keeps it
    # referenced until the client is shut down (after which the core never calls it again).
    def log_to(callback)
      call_waiting("set_log_callback") { |ptr, _out_error| Native.flagwire_set_log_callback(ptr, callback, nil) }
      @log_callback = callback
    end

    # The call helper for calls that never block. Yields the live client pointer, the out_error
    # slot and an empty RecordBuffer; the block makes the call and returns its status. Returns the status when it
    # is OK, SKIPPED or in `allow`; otherwise raises the matching Flagwire::Error with the core's
    # message for this call.
    def call(what, allow = Status::SUCCESS)
      @lock.synchronize do
        ptr = @ptr or raise closed_error(what)
        @scratch.clear
        status = yield ptr, @out_error, @scratch
        # OK and SKIPPED leave out_error untouched (docs/design.md §2.1): the hot path stops here.
        status <= Status::SKIPPED ? status : failed(status, what, allow, @out_error)
      end
    end

    # The call helper for calls attached `blocking: true` (they release the GVL): the lock is not
    # held while they run, and each has its own out_error slot. Inputs must be native copies
    # (Native.copy), not Ruby Strings, since other threads (and the GC) run meanwhile.
    def call_waiting(what, allow = Status::SUCCESS)
      ptr = @lock.synchronize do
        raise closed_error(what) unless @ptr

        @waiting_calls += 1
        @ptr
      end
      begin
        out_error = FFI::MemoryPointer.new(:pointer)
        status = yield ptr, out_error
        # The pointer stays live until this call is counted out (close waits for it).
        status <= Status::SKIPPED ? status : failed(status, what, allow, out_error)
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

    # In a forked child: the threads that were inside calls (or held the locks) at fork do not
    # exist here, so nothing is in flight.
    def after_fork_in_child
      @lock = Mutex.new
      @idle = ConditionVariable.new
      @close_lock = Mutex.new
      @waiting_calls = 0
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

    # A status that is neither OK nor SKIPPED: takes (and frees) the call's message, then returns
    # the status if `allow` has it (QUEUE_FULL for the listener, TIMEOUT for flush, ...) or raises.
    def failed(status, what, allow, out_error)
      message = Native.take_error(out_error)
      @last_error = message if message
      Native.check(status, what, detail: message, allow: allow)
    end

    def close_now(timeout)
      @close_lock.synchronize do
        ptr = take_pointer(timeout)
        return nil unless ptr

        # flagwire_shutdown has no out_error: TIMEOUT is its only expected failure.
        status = Native.flagwire_shutdown(ptr, Flagwire.milliseconds(timeout))
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
          # Freeing it now would be a use-after-free in the waiting thread: leak it instead, and
          # its log callback with it (the core may still call it).
          NativeHandle.leaked_callbacks << @log_callback if @log_callback
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
