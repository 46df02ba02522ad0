// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
)

// The parsing of client frames for sockets read without a goroutine of their own (see
// poll_linux.go): the bytes read so far are handed to frameReader.handle, which acts on every
// complete frame and leaves the rest for the next read. It checks what gorilla/websocket's
// reader checks, with the same close frames and errors, so both read paths end a socket the
// same way (classifyReadError).

// Opcodes of client frames besides those in frame.go (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opClose        = 0x8
	opPong         = 0xA

	maxControlPayload = 125
	maxClientHeader   = 14 // 2 + 8 bytes of length + 4 bytes of mask key
)

// frameReader is the reading state of one socket between reads. It is used by one reader at a
// time (see Socket.dispatch) and holds no buffer while the socket is idle between messages.
type frameReader struct {
	partial []byte // bytes of an incomplete frame, kept between reads; nil when none
	msg     []byte // payload of a fragmented data message so far
	msgLen  int64  // bytes of the data message so far, for the read limit
	msgOp   byte   // opcode of that message
	inMsg   bool   // a data message's first frame arrived without FIN
}

// clientHeader is the header of one client frame.
type clientHeader struct {
	fin    bool
	op     byte
	key    [4]byte
	hdrLen int
	length int64
}

// parseHeader parses the header at the front of b; ok is false while b does not hold all of
// it. The checks and their messages are gorilla's, in its order.
func (r *frameReader) parseHeader(b []byte) (h clientHeader, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.op, h.fin = b[0]&0xf, b[0]&0x80 != 0
	masked := b[1]&0x80 != 0
	h.length = int64(b[1] & 0x7f)
	var problems []string
	for i, name := range []string{"RSV1 set", "RSV2 set", "RSV3 set"} {
		if b[0]&(0x40>>i) != 0 { // no extension is negotiated: every RSV bit is an error
			problems = append(problems, name)
		}
	}
	switch h.op {
	case opClose, opPing, opPong:
		if h.length > maxControlPayload {
			problems = append(problems, "len > 125 for control")
		}
		if !h.fin {
			problems = append(problems, "FIN not set on control")
		}
	case opText, opBinary:
		if r.inMsg {
			problems = append(problems, "data before FIN")
		}
	case opContinuation:
		if !r.inMsg {
			problems = append(problems, "continuation after FIN")
		}
	default:
		problems = append(problems, "bad opcode "+strconv.Itoa(int(h.op)))
	}
	if !masked {
		problems = append(problems, "bad MASK")
	}
	if len(problems) > 0 {
		return h, false, protocolError(strings.Join(problems, ", "))
	}
	h.hdrLen = 2
	switch h.length {
	case 126:
		h.hdrLen += 2
	case 127:
		h.hdrLen += 8
	}
	if len(b) < h.hdrLen+4 {
		return h, false, nil
	}
	switch h.length {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		h.length = int64(binary.BigEndian.Uint64(b[2:])) //nolint:gosec // G115: a length with the top bit set turns negative and is refused below
		if h.length < 0 {
			return h, false, websocket.ErrReadLimit
		}
	}
	copy(h.key[:], b[h.hdrLen:])
	h.hdrLen += 4
	return h, true, nil
}

// protocolError is the error of a client frame that breaks the protocol; gorilla's text.
func protocolError(msg string) error { return errors.New("websocket: " + msg) }

// handle acts on the complete frames at the front of b and returns how many bytes they took;
// need is how many bytes the next, incomplete frame takes in all when its header is there
// (0 otherwise). A non-nil error ends the socket; the close frame it calls for is written.
func (k *Socket) handleFrames(c *hub.Conn, b []byte) (used int, need int64, err error) {
	r := &k.rd
	for {
		h, ok, err := r.parseHeader(b[used:])
		if err != nil {
			return used, 0, k.refuseFrame(err)
		}
		if !ok {
			return used, 0, nil
		}
		if h.op == opText || h.op == opBinary || h.op == opContinuation {
			total := h.length
			if h.op == opContinuation {
				total += r.msgLen
			}
			if total > protocol.MaxFrameBytes {
				return used, 0, k.refuseFrame(websocket.ErrReadLimit)
			}
		}
		size := int64(h.hdrLen) + h.length
		if int64(len(b)-used) < size {
			return used, size, nil
		}
		payload := b[used+h.hdrLen : used+int(size)]
		used += int(size)
		for i := range payload {
			payload[i] ^= h.key[i&3]
		}
		if err := k.handleFrame(c, h, payload); err != nil {
			return used, 0, err
		}
	}
}

// handleFrame acts on one complete client frame with its unmasked payload, which it does not
// keep.
func (k *Socket) handleFrame(c *hub.Conn, h clientHeader, payload []byte) error {
	r := &k.rd
	switch h.op {
	case opPing:
		k.controlReply(websocket.PongMessage, payload)
	case opPong:
		k.touch()
	case opClose:
		code, text := protocol.CloseNoStatus, ""
		if len(payload) >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
			if !validReceivedCloseCode(code) {
				return k.refuseFrame(protocolError("bad close code " + strconv.Itoa(code)))
			}
			text = string(payload[2:])
			if !utf8.ValidString(text) {
				return k.refuseFrame(protocolError("invalid utf8 payload in close frame"))
			}
		}
		k.controlReply(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
		return &websocket.CloseError{Code: code, Text: text}
	case opText, opBinary:
		if h.fin {
			k.deliver(c, h.op == opBinary, append(make([]byte, 0, len(payload)), payload...))
			return nil
		}
		r.inMsg, r.msgOp, r.msgLen = true, h.op, h.length
		r.msg = append([]byte(nil), payload...)
	case opContinuation:
		r.msg = append(r.msg, payload...)
		r.msgLen += h.length
		if h.fin {
			data, op := r.msg, r.msgOp
			r.inMsg, r.msg, r.msgLen = false, nil, 0
			k.deliver(c, op == opBinary, data)
		}
	}
	return nil
}

// refuseFrame writes the close frame gorilla writes for err (1009 for the read limit, 1002
// with the message for a protocol error) and returns err.
func (k *Socket) refuseFrame(err error) error {
	if errors.Is(err, websocket.ErrReadLimit) {
		k.controlReply(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""))
		return err
	}
	data := websocket.FormatCloseMessage(websocket.CloseProtocolError, strings.TrimPrefix(err.Error(), "websocket: "))
	k.controlReply(websocket.CloseMessage, data[:min(len(data), maxControlPayload)])
	return err
}

// validReceivedCloseCode reports whether a client may send code in a close frame (RFC 6455
// §7.4, as gorilla checks it).
func validReceivedCloseCode(code int) bool {
	switch code {
	case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013:
		return true
	}
	return code >= 3000 && code <= 4999
}
