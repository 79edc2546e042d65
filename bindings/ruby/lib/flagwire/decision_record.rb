# frozen_string_literal: true

require "ffi"

module Flagwire
  # Writes one `decide` (flag) decision as an ABI 2 decision record (docs/design.md §2.2): a
  # 44-byte little-endian header, then the seven strings back to back, length-prefixed, so NUL
  # bytes are data and nothing is escaped.
  #
  #   offset size field
  #    0     4    record_len u32 (header + strings)
  #    4     1    format u8 = 1
  #    5     1    enabled i8: 1, 0
  #    6     1    decision_event_dispatched i8: 1, 0, -1 unknown
  #    7     1    reserved = 0
  #    8     8    at_ms i64: decision time, Unix ms; 0 = now
  #   16    28    7 x u32 string lengths (0 = absent)
  #   44     ..   user id, flag key, rule key, variation key, experiment id, variation id,
  #               attributes JSON
  #
  # Written straight into native memory (a RecordBuffer), which the core reads without a copy:
  # the header as eleven u32 words with one put_array_of_uint32, each string with put_bytes,
  # whatever its encoding (the core checks the bytes: an empty user id or flag key, invalid UTF-8).
  # That is about half the cost of Array#pack, whose every directive costs as much as a method
  # call (bench/listener_bench.rb's encode baseline measures it).
  module DecisionRecord
    HEADER_LEN = 44
    FORMAT_FLAG_DECISION = 1
    EMPTY = "".b.freeze

    # Appends the record to `out` (a RecordBuffer). `info` is ruby-sdk's decision_info Hash
    # (Symbol keys; shared/reference/optimizely.md §2.1), `attributes_json` the attributes as
    # JSON text or nil, `at_ms` the decision time (0: the core reads the clock). Returns the
    # record's length. A value that is not a String (or nil) raises before anything is written.
    def self.write(out, user_id, info, attributes_json, at_ms = 0)
      user_id ||= EMPTY
      flag_key = info[:flag_key] || EMPTY
      rule_key = info[:rule_key] || EMPTY
      variation_key = info[:variation_key] || EMPTY
      experiment_id = info[:experiment_id] || EMPTY
      variation_id = info[:variation_id] || EMPTY
      attributes_json ||= EMPTY
      dispatched = info[:decision_event_dispatched]
      u = user_id.bytesize
      f = flag_key.bytesize
      r = rule_key.bytesize
      v = variation_key.bytesize
      e = experiment_id.bytesize
      i = variation_id.bytesize
      a = attributes_json.bytesize
      total = HEADER_LEN + u + f + r + v + e + i + a
      # Bytes 4..7 as one little-endian word: format, enabled, dispatched (-1 = 0xff), reserved.
      word = FORMAT_FLAG_DECISION | (info[:enabled] ? 0x100 : 0) |
             (dispatched.nil? ? 0xff_0000 : (dispatched ? 0x1_0000 : 0))
      at = out.reserve(total)
      memory = out.pointer
      memory.put_array_of_uint32(at, [total, word, at_ms & 0xffff_ffff, at_ms >> 32, u, f, r, v, e, i, a])
      at += HEADER_LEN
      memory.put_bytes(at, user_id)
      memory.put_bytes(at += u, flag_key)
      memory.put_bytes(at += f, rule_key)
      memory.put_bytes(at += r, variation_key)
      memory.put_bytes(at += v, experiment_id)
      memory.put_bytes(at += e, variation_id)
      memory.put_bytes(at + i, attributes_json)
      total
    end
  end

  # Native memory that decision records are written into, back to back, and handed to the core
  # from (pointer, #size). Grows as needed; #clear reuses it. Not thread-safe: each owner uses it
  # under its own lock.
  class RecordBuffer
    INITIAL = 4096
    # A buffer grown beyond this (a burst of decisions) is given back by #clear.
    KEEP = 1 << 20

    attr_reader :pointer, :size

    def initialize
      allocate(INITIAL)
      @size = 0
    end

    # Reserves `length` bytes at the end; returns their offset.
    def reserve(length)
      at = @size
      if at + length > @capacity
        old = @pointer
        allocate([@capacity * 2, at + length].max)
        @pointer.put_bytes(0, old.get_bytes(0, at)) if at.positive?
      end
      @size = at + length
      at
    end

    def clear
      allocate(INITIAL) if @capacity > KEEP
      @size = 0
    end

    def empty?
      @size.zero?
    end

    # The bytes written so far (tests and diagnostics).
    def to_s
      @pointer.get_bytes(0, @size)
    end

    private

    def allocate(capacity)
      @pointer = FFI::MemoryPointer.new(:uint8, capacity, false)
      @capacity = capacity
    end
  end
end
