package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/golang/snappy"
	"math"
	"time"

	"github.com/onus-sec/onus"
)

// Records are stored in chunks with a compact encoding: varints for
// numbers and lengths, strings as length and bytes, attribute values as a
// tag byte and a payload. Decoding slices every string out of one string
// per chunk, so a chunk costs a handful of allocations, not one per value.

const (
	tagNil byte = iota
	tagString
	tagInt
	tagFloat
	tagTrue
	tagFalse
	tagTime
	tagJSON
)

// chunkRecords is how many records go in one stored chunk.
const chunkRecords = 20000

// Stored chunks start with a format byte. Format 1 is the encoding below,
// compressed with Snappy: exports repeat themselves (versions, host ids,
// paths), and writing a third of the bytes is most of a large sync's
// storage time. Format 2 stores a record's location shifted left by one,
// with the low bit saying the record was skipped.
const chunkFormat byte = 2

// compressChunkInto compresses b into dst's memory when it is large enough.
func compressChunkInto(dst, b []byte) []byte {
	if need := 1 + snappy.MaxEncodedLen(len(b)); cap(dst) < need {
		dst = make([]byte, need)
	}
	dst = dst[:cap(dst)]
	dst[0] = chunkFormat
	return dst[:1+len(snappy.Encode(dst[1:], b))]
}

// decompressChunk returns a chunk's encoded records and its format.
func decompressChunk(b []byte) ([]byte, byte, error) {
	if len(b) == 0 || b[0] < 1 || b[0] > chunkFormat {
		return nil, 0, fmt.Errorf("%w: unknown chunk format", errCorrupt)
	}
	out, err := snappy.Decode(nil, b[1:])
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return out, b[0], nil
}

type encoder struct{ b, tmp []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// encodeRangeInto appends the encoding of records lo to hi of rs to dst,
// reading their columns, without making a Record of each.
func encodeRangeInto(dst []byte, rs *onus.Records, lo, hi int) ([]byte, error) {
	e := &encoder{b: dst}
	e.uvarint(uint64(hi - lo))
	for i := lo; i < hi; i++ {
		e.tmp = rs.AppendID(e.tmp[:0], i)
		e.uvarint(uint64(len(e.tmp)))
		e.b = append(e.b, e.tmp...)
		e.str(rs.Name(i))
		loc := uint64(rs.Loc(i)) << 1
		if rs.Skipped(i) {
			loc |= 1
		}
		e.uvarint(loc)
		e.varint(rs.Seen(i))
		keys := rs.Keys(i)
		e.uvarint(uint64(len(keys)))
		for _, k := range keys {
			e.str(k.Name)
			e.str(k.Value)
		}
		nl := rs.NumLinks(i)
		e.uvarint(uint64(nl))
		for j := range nl {
			e.str(rs.Link(i, j))
		}
		na := rs.NumAttrs(i)
		e.uvarint(uint64(na))
		for j := range na {
			if err := e.value(rs.Attr(i, j)); err != nil {
				return nil, fmt.Errorf("record %s: %w", rs.ID(i), err)
			}
		}
	}
	return e.b, nil
}

func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.b = append(e.b, tagNil)
	case string:
		e.b = append(e.b, tagString)
		e.str(x)
	case int64:
		e.b = append(e.b, tagInt)
		e.varint(x)
	case float64:
		e.b = append(e.b, tagFloat)
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(x))
	case bool:
		if x {
			e.b = append(e.b, tagTrue)
		} else {
			e.b = append(e.b, tagFalse)
		}
	case time.Time:
		e.b = append(e.b, tagTime)
		e.varint(x.Unix())
		e.uvarint(uint64(x.Nanosecond()))
	default:
		j, err := json.Marshal(x)
		if err != nil {
			return err
		}
		e.b = append(e.b, tagJSON)
		e.str(string(j))
	}
	return nil
}

var errCorrupt = errors.New("corrupt snapshot chunk")

type decoder struct {
	s   string // the whole chunk; strings are sliced out of it
	off int
	err error
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.err != nil || d.off >= len(d.s) {
			d.err = errCorrupt
			return 0
		}
		b := d.s[d.off]
		d.off++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
	d.err = errCorrupt
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) str() string {
	n := int(d.uvarint())
	if d.err != nil || n < 0 || d.off+n > len(d.s) {
		d.err = errCorrupt
		return ""
	}
	s := d.s[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.s) {
		d.err = errCorrupt
		return 0
	}
	b := d.s[d.off]
	d.off++
	return b
}

// decodeRecords decodes records of the current format.
func decodeRecords(data []byte, into []onus.Record) ([]onus.Record, error) {
	return decodeFormat(data, into, chunkFormat)
}

func decodeFormat(data []byte, into []onus.Record, format byte) ([]onus.Record, error) {
	d := &decoder{s: string(data)}
	n := int(d.uvarint())
	if d.err != nil || n < 0 || n > len(data) {
		return into, errCorrupt
	}
	for i := 0; i < n && d.err == nil; i++ {
		var r onus.Record
		r.ID = d.str()
		r.Name = d.str()
		loc := d.uvarint()
		if format >= 2 {
			r.Skipped = loc&1 == 1
			loc >>= 1
		}
		r.Loc = int(loc)
		r.Seen = d.varint()
		if nk := int(d.uvarint()); nk > 0 && d.err == nil {
			if nk > len(d.s) {
				return into, errCorrupt
			}
			r.Keys = make([]onus.Key, nk)
			for j := range r.Keys {
				r.Keys[j] = onus.Key{Name: d.str(), Value: d.str()}
			}
		}
		if nl := int(d.uvarint()); nl > 0 && d.err == nil {
			if nl > len(d.s) {
				return into, errCorrupt
			}
			r.Links = make([]string, nl)
			for j := range r.Links {
				r.Links[j] = d.str()
			}
		}
		if na := int(d.uvarint()); na > 0 && d.err == nil {
			if na > len(d.s) {
				return into, errCorrupt
			}
			r.Attrs = make([]any, na)
			for j := range r.Attrs {
				r.Attrs[j] = d.value()
			}
		}
		into = append(into, r)
	}
	if d.err != nil {
		return into, d.err
	}
	return into, nil
}

func (d *decoder) value() any {
	switch d.byte() {
	case tagNil:
		return nil
	case tagString:
		return d.str()
	case tagInt:
		return d.varint()
	case tagFloat:
		if d.off+8 > len(d.s) {
			d.err = errCorrupt
			return nil
		}
		var u uint64
		for i := 7; i >= 0; i-- {
			u = u<<8 | uint64(d.s[d.off+i])
		}
		d.off += 8
		return math.Float64frombits(u)
	case tagTrue:
		return true
	case tagFalse:
		return false
	case tagTime:
		sec := d.varint()
		ns := d.uvarint()
		return time.Unix(sec, int64(ns)).UTC()
	case tagJSON:
		var v any
		if err := json.Unmarshal([]byte(d.str()), &v); err != nil {
			d.err = errCorrupt
		}
		return v
	}
	d.err = errCorrupt
	return nil
}
