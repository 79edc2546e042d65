package flagwire

import (
	"encoding/binary"
	"math"
)

// Decision records (docs/design.md §2.2): the one way a flag decision reaches the library. A
// 44-byte header, then the seven strings back to back; integers little-endian; strings are
// length-prefixed, so NUL bytes are ordinary data. The constants are checked against the header
// in capi.go.
//
//	offset size field
//	 0     4    record_len u32: header + strings
//	 4     1    format u8: 1
//	 5     1    enabled i8: 1, 0, -1 unknown
//	 6     1    decision_event_dispatched i8: 1, 0, -1 unknown
//	 7     1    reserved, 0
//	 8     8    at_ms i64: decision time in Unix ms; 0 = now (the library reads the clock)
//	16    28    7 x u32 lengths (0 = absent)
//	44    ..    user id, flag key, rule key, variation key, experiment id, variation id, attributes JSON
const (
	recordHeaderLen          = 44
	recordFormatFlagDecision = 1
	recordAtMSAt             = 8
	recordLengthsAt          = 16
	recordStrings            = 6 // the string fields before the attributes JSON
)

// flagRecord is one flag decision in the record's types.
type flagRecord struct {
	// user id, flag key, rule key, variation key, experiment id, variation id, in record order
	strings             [recordStrings]string
	enabled, dispatched int8           // 1, 0, -1 unknown
	atMS                int64          // decision time, Unix ms; 0: when the library reads it
	attributes          map[string]any // nil or empty: absent
}

var zeroHeader [recordHeaderLen]byte

// appendRecord appends r as one decision record to buf. It fails only when the attributes
// cannot be encoded as JSON (a channel, NaN, ...) or the record would exceed 4 GiB; buf is then
// returned as it was.
func appendRecord(buf []byte, r *flagRecord) ([]byte, error) {
	start := len(buf)
	buf = append(buf, zeroHeader[:]...)
	var lens [recordStrings + 1]int
	for i, s := range r.strings {
		buf = append(buf, s...)
		lens[i] = len(s)
	}
	if len(r.attributes) > 0 {
		at := len(buf)
		var err error
		if buf, err = appendJSONObject(buf, r.attributes); err != nil {
			return buf[:start], &Error{Status: StatusInvalidJSON, Message: "user attributes: " + err.Error()}
		}
		lens[recordStrings] = len(buf) - at
	}
	total := len(buf) - start
	if total > math.MaxUint32 {
		return buf[:start], &Error{Status: StatusTooLarge, Message: "decision record over 4 GiB"}
	}
	h := buf[start : start+recordHeaderLen]
	binary.LittleEndian.PutUint32(h[0:], uint32(total))
	h[4] = recordFormatFlagDecision
	h[5] = byte(r.enabled)
	h[6] = byte(r.dispatched)
	// h[7] is reserved, zero.
	binary.LittleEndian.PutUint64(h[recordAtMSAt:], uint64(r.atMS))
	for i, n := range lens {
		binary.LittleEndian.PutUint32(h[recordLengthsAt+4*i:], uint32(n))
	}
	return buf, nil
}
