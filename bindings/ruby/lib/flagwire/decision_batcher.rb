# frozen_string_literal: true

require_relative "native"
require_relative "decision_record"
require_relative "json_text"

module Flagwire
  # Hands the listener's flag decisions to the core off the SDK's thread (issue 13: decisions
  # buffered and handed over in batches, each record's `at_ms` set at decision time;
  # docs/design.md §2.2).
  #
  # ruby-sdk calls the listener on the thread that called decide(), before decide() returns. There
  # the listener only keeps the references the SDK passed (it builds the decision_info Hash and
  # clones the attributes for each notification) with the decision time, which costs a fraction
  # of serializing and encoding them. A Ruby thread, "flagwire-decisions", then serializes the
  # attributes, encodes the records back to back (DecisionRecord) and hands each burst over with
  # one flagwire_on_decision_records call, during which the GVL is released: the core's work runs
  # in parallel with Ruby code.
  #
  # * The drainer starts with the first decision, lets a burst gather for LINGER seconds or until
  #   BATCH decisions wait, hands it over, and ends after IDLE seconds without decisions (the next
  #   one starts another). While it runs it keeps its Client reachable, so the Client's finalizer
  #   never shuts the native client down under a hand-over.
  # * Bounded: when MAX_PENDING decisions wait (the drainer cannot get the GVL), #add returns false
  #   and the listener hands its decision over itself: slower, never lost, never blocked.
  # * #drain hands over, on the calling thread, everything added before it; flush, stats and close
  #   call it. Hand-overs are serialized, so decisions reach the core in the order they were added.
  # * In a forked child, #after_fork_in_child drops what the parent had pending (the parent hands
  #   those over itself) and the next decision starts the child's own drainer.
  class DecisionBatcher
    LINGER = 0.02
    BATCH = 1_000
    IDLE = 2.0
    MAX_PENDING = 10_000
    FIELDS = 4 # per decision in @pending: at_ms, user_id, attributes, decision_info
    ALLOW = [Status::OK, Status::INVALID_UTF8].freeze
    WHAT = "listener"
    THREAD_NAME = "flagwire-decisions"

    def initialize(native, errors)
      @native = native
      @errors = errors
      @closed = false
      reset
    end

    # On the SDK's thread: keeps the decision (references and the decision time) for the drainer.
    # `owner` is the Client, which the drainer keeps reachable. Returns false when MAX_PENDING
    # decisions wait already. Raises ClosedError after #close.
    def add(owner, user_id, attributes, info)
      at_ms = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
      @lock.synchronize do
        raise ClosedError.new("flagwire: listener: the client is closed", status: Status::CLOSED) if @closed

        pending = @pending
        return false if pending.size >= MAX_PENDING * FIELDS

        pending.push(at_ms, user_id, attributes, info)
        if @drainer.nil?
          @drainer = Thread.new(owner) { |client| run(client) }
          @drainer.name = THREAD_NAME
        elsif pending.size == FIELDS || pending.size == BATCH * FIELDS
          @wake.signal # the first of a burst (the drainer may be idle), or a full batch (lingering)
        end
      end
      true
    end

    # Hands every decision added before the call over to the core, on the calling thread.
    def drain
      @drain_lock.synchronize do
        items = @lock.synchronize do
          taken = @pending
          @pending = [] unless taken.empty?
          taken
        end
        hand_over(items) unless items.empty?
      end
      nil
    end

    # Decisions waiting for the drainer.
    def pending
      @pending.size / FIELDS
    end

    # Refuses further decisions, hands over the pending ones, and lets the drainer end (waiting
    # for it up to `timeout` seconds).
    def close(timeout)
      drainer = @lock.synchronize do
        @closed = true
        @wake.signal
        @drainer
      end
      drain
      drainer&.join(timeout)
      nil
    end

    # In a forked child: the parent's pending decisions are the parent's to hand over; its
    # drainer thread does not exist here, and its locks may be held by threads that do not either.
    def after_fork_in_child
      reset
    end

    private

    def reset
      @lock = Mutex.new
      @wake = ConditionVariable.new
      @drain_lock = Mutex.new
      @pending = []
      @drainer = nil
      @records = RecordBuffer.new # written and handed over under @drain_lock
      @json = JSON::State.new # used under @drain_lock too
    end

    # The drainer thread's body. `_client` only keeps the Client reachable while it runs.
    def run(_client)
      until finished?
        linger
        drain
      end
    rescue StandardError => e
      @errors.failed(e) # drain rescues its own errors; this is a last resort
    ensure
      @lock.synchronize { @drainer = nil if @drainer.equal?(Thread.current) }
    end

    # Waits for decisions; true (and the drainer ends) when none came for IDLE seconds, or when
    # the batcher is closed and nothing is pending.
    def finished?
      @lock.synchronize do
        @wake.wait(@lock, IDLE) if @pending.empty? && !@closed
        next false unless @pending.empty?

        @drainer = nil
        true
      end
    end

    # Lets a burst gather (decisions carry their own time: waiting changes no timestamp).
    def linger
      @lock.synchronize do
        @wake.wait(@lock, LINGER) if @pending.size < BATCH * FIELDS && !@closed
      end
    end

    def hand_over(items)
      records = @records
      records.clear
      i = 0
      while i < items.size
        encode(records, items[i], items[i + 1], items[i + 2], items[i + 3])
        i += FIELDS
      end
      return if records.empty?

      # Native memory: nothing moves while the GVL is released during the call.
      status = @native.call_waiting(WHAT, ALLOW) do |ptr, out_error|
        Native.flagwire_on_decision_records(ptr, records.pointer, records.size, out_error)
      end
      # A record with a string that is not UTF-8 was dropped (and counted) by the core.
      @errors.failed(@native.last_error) if status == Status::INVALID_UTF8
    rescue StandardError => e
      @errors.failed(e, items.size / FIELDS)
    end

    # Appends one decision's record to `records`; a decision that cannot be encoded (attributes
    # the stdlib JSON refuses, a value that is not a String) is counted and left out (nothing of
    # it is written: DecisionRecord.write raises before it writes).
    def encode(records, at_ms, user_id, attributes, info)
      json = JsonText.generate(attributes, @json) if attributes && !attributes.empty?
      DecisionRecord.write(records, user_id, info, json, at_ms)
    rescue StandardError => e
      @errors.failed(e)
    end
  end
end
