# frozen_string_literal: true

require "test_helper"

# The decision record encoder against the layout of docs/design.md §2.2, read back with an
# independent decoder (String#unpack1 at the documented offsets). The core accepting these
# records is what test_listener.rb checks end to end.
class TestDecisionRecord < Minitest::Test
  FIELDS = %i[user_id flag_key rule_key variation_key experiment_id variation_id attributes_json].freeze

  def decode(record)
    bytes = record.b
    header = {
      record_len: bytes.unpack1("V", offset: 0), format: bytes.unpack1("C", offset: 4),
      enabled: bytes.unpack1("c", offset: 5), dispatched: bytes.unpack1("c", offset: 6),
      reserved: bytes.unpack1("C", offset: 7), at_ms: bytes.unpack1("q<", offset: 8)
    }
    lengths = bytes.unpack("V7", offset: 16)
    at = 44
    strings = FIELDS.zip(lengths).to_h do |name, len|
      value = bytes.byteslice(at, len)
      at += len
      [name, len.zero? ? nil : value]
    end
    assert_equal bytes.bytesize, header[:record_len]
    assert_equal bytes.bytesize, at
    header.merge(strings)
  end

  def info(**overrides)
    { flag_key: "checkout_flow", enabled: true, variables: { "c" => "green" }, variation_key: "treatment",
      rule_key: "checkout_ab", reasons: [], decision_event_dispatched: true, experiment_id: "2001",
      variation_id: "5002" }.merge(overrides)
  end

  def encode(user_id, info, attributes_json, at_ms = 0)
    out = Flagwire::RecordBuffer.new
    length = Flagwire::DecisionRecord.write(out, user_id, info, attributes_json, at_ms)
    assert_equal out.size, length
    out.to_s
  end

  def check(user_id, info, attributes_json, at_ms = 0, record = nil)
    record ||= encode(user_id, info, attributes_json, at_ms)
    got = decode(record)
    assert_equal 1, got[:format]
    assert_equal 0, got[:reserved]
    assert_equal at_ms, got[:at_ms]
    assert_equal(info[:enabled] ? 1 : 0, got[:enabled])
    d = info[:decision_event_dispatched]
    assert_equal(d.nil? ? -1 : (d ? 1 : 0), got[:dispatched])
    expected = { user_id: user_id, flag_key: info[:flag_key], rule_key: info[:rule_key],
                 variation_key: info[:variation_key], experiment_id: info[:experiment_id],
                 variation_id: info[:variation_id], attributes_json: attributes_json }
    expected.each do |name, value|
      if value.nil? || value.empty?
        assert_nil got[name], name.to_s
      else
        assert_equal value.b, got[name], name.to_s
      end
    end
  end

  def test_every_field_at_its_offset
    check("user-1", info, '{"plan":"pro"}')
    [true, false, nil].each do |dispatched|
      [true, false].each { |enabled| check("u", info(enabled: enabled, decision_event_dispatched: dispatched), nil) }
    end
  end

  def test_absent_fields_have_length_zero
    check("u", info(rule_key: nil, variation_key: nil, experiment_id: nil, variation_id: nil), nil)
    check(nil, { flag_key: nil }, nil)
  end

  def test_nul_bytes_and_utf8_are_copied_as_they_are
    check("u\0ser", info(rule_key: "r\0", variation_key: "Zürich ✓"), "{\"ville\":\"Zürich\"}")
  end

  def test_strings_in_other_encodings_are_copied_byte_for_byte
    check("bad utf8 \xff".b, info(variation_key: "Zürich"), nil)
    check("caf\xe9".dup.force_encoding(Encoding::ISO_8859_1), info, '{"plan":"pró"}')
    check("u", info(flag_key: "flag".encode(Encoding::US_ASCII)), nil)
  end

  def test_lengths_beyond_the_table
    long = "x" * 70_000
    check(long, info(rule_key: "é" * 3000), "{\"blob\":\"#{'y' * 5000}\"}")
  end

  def test_decision_time
    check("u", info, nil, 1_795_255_200_123)
  end

  # Appended back to back into one buffer, which grows: what flagwire_on_decision_records takes.
  def test_records_appended_to_a_buffer
    out = Flagwire::RecordBuffer.new
    first = Flagwire::DecisionRecord.write(out, "a", info, nil, 1)
    Flagwire::DecisionRecord.write(out, "bé", info(rule_key: nil), '{"k":1}', 2)
    200.times { |n| Flagwire::DecisionRecord.write(out, "user-#{n}", info, "{\"n\":#{n}}", n + 1) }
    bytes = out.to_s
    check("a", info, nil, 1, bytes.byteslice(0, first))
    second = bytes.unpack1("V", offset: first)
    check("bé", info(rule_key: nil), '{"k":1}', 2, bytes.byteslice(first, second))
    at = first + second
    200.times do |n|
      len = bytes.unpack1("V", offset: at)
      check("user-#{n}", info, "{\"n\":#{n}}", n + 1, bytes.byteslice(at, len))
      at += len
    end
    assert_equal bytes.bytesize, at
    out.clear
    assert out.empty?
  end

  # A value that is not a String raises before anything is written.
  def test_a_bad_value_writes_nothing
    out = Flagwire::RecordBuffer.new
    assert_raises(NoMethodError) { Flagwire::DecisionRecord.write(out, "u", info(rule_key: :symbol), nil) }
    assert_raises(NoMethodError) { Flagwire::DecisionRecord.write(out, 42, info, nil) }
    assert out.empty?
  end
end
