// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/filter"
	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// maxSendBytes bounds the body of a send: the largest message a client can receive.
const maxSendBytes = protocol.MaxFrameBytes

// sendRequest is the parsed common part of the send operations.
type sendRequest struct {
	contentType string
	data        []byte
	excluded    map[string]bool
	filter      *filter.Expr
}

// skip reports whether the send must not reach c.
func (q *sendRequest) skip(c *hub.Conn) bool {
	return q.excluded[c.ID()] || !q.filter.Match(c)
}

func readSend(r *http.Request) (*sendRequest, *apiError) {
	q := r.URL.Query()
	if v := q.Get("messageTtlSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 300 {
			return nil, badRequest("messageTtlSeconds must be an integer from 0 to 300")
		}
	}
	ct, err := sendContentType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: "Error.UnsupportedMediaType", message: err.Error()}
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxSendBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "Error.PayloadTooLarge",
				message: "the message is larger than 1 MiB"}
		}
		return nil, badRequest("reading the body failed")
	}
	if ct == webpubsub.ContentTypeJSON && !json.Valid(data) {
		return nil, badRequest("the body is not valid JSON")
	}
	f, aerr := parseFilter(q.Get("filter"))
	if aerr != nil {
		return nil, aerr
	}
	return &sendRequest{contentType: ct, data: data, excluded: excludedSet(r), filter: f}, nil
}

// sendContentType maps a request Content-Type to one of the three the service accepts.
func sendContentType(h string) (string, error) {
	if h == "" {
		return "", errors.New("Content-Type is required: text/plain, application/json or application/octet-stream")
	}
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return "", errors.New("Content-Type is malformed")
	}
	switch mt {
	case webpubsub.ContentTypeText, webpubsub.ContentTypeJSON, webpubsub.ContentTypeBinary:
		return mt, nil
	}
	return "", errors.New("Content-Type " + quote(mt) + " is not supported: use text/plain, application/json or application/octet-stream")
}

// sendOp is the operation that carries a send to every replica.
func sendOp(h *hub.Hub, target, key string, q *sendRequest, r *http.Request) *cluster.Op {
	op := &cluster.Op{
		Kind: cluster.KindSend, Hub: h.Name(), Target: target, Key: key, Filter: r.URL.Query().Get("filter"),
		Excluded: r.URL.Query()["excluded"], From: protocol.FromServer, ContentType: q.contentType, Data: q.data,
	}
	if target == cluster.TargetGroup {
		op.From, op.Group = protocol.FromGroup, key
	}
	return op
}

// deliver queues m for conns (but those skip names) and answers 202. The REST handler then
// writes the first queued sockets itself (transport.HelpWrite): it has nothing else to do, and
// waking a writer costs more.
func (s *Server) deliver(w http.ResponseWriter, conns []*hub.Conn, m *hub.Message, skip func(*hub.Conn) bool) *apiError {
	hub.Deliver(conns, m, skip)
	s.transport.HelpWrite()
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) sendToAll(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	q, aerr := readSend(r)
	if aerr != nil {
		return aerr
	}
	if s.cluster != nil {
		return s.replicate(w, sendOp(h, cluster.TargetAll, "", q, r), http.StatusAccepted)
	}
	return s.deliver(w, h.Conns(), hub.NewMessage(protocol.FromServer, "", "", q.contentType, q.data), q.skip)
}

func (s *Server) sendToUser(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	q, aerr := readSend(r)
	if aerr != nil {
		return aerr
	}
	if s.cluster != nil {
		return s.replicate(w, sendOp(h, cluster.TargetUser, user, q, r), http.StatusAccepted)
	}
	return s.deliver(w, h.UserConns(user), hub.NewMessage(protocol.FromServer, "", "", q.contentType, q.data), q.skip)
}

func (s *Server) sendToConnection(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	q, aerr := readSend(r)
	if aerr != nil {
		return aerr
	}
	if s.cluster != nil {
		op := sendOp(h, cluster.TargetConn, id, q, r)
		op.Filter, op.Excluded = "", nil // not parameters of this operation
		return s.replicate(w, op, http.StatusAccepted)
	}
	if c := h.Conn(id); c != nil {
		_ = c.Send(hub.NewMessage(protocol.FromServer, "", "", q.contentType, q.data))
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) sendToGroup(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	q, aerr := readSend(r)
	if aerr != nil {
		return aerr
	}
	if s.cluster != nil {
		return s.replicate(w, sendOp(h, cluster.TargetGroup, g, q, r), http.StatusAccepted)
	}
	return s.deliver(w, h.GroupMembers(g), hub.NewMessage(protocol.FromGroup, g, "", q.contentType, q.data), q.skip)
}
