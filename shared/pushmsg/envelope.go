package pushmsg

import (
	"encoding/base64"
	"fmt"

	"github.com/jobhooks/jobhooks/shared/jsonscan"
)

// Every push Jobhooks handles starts by reading this envelope, so it is read in one pass by
// jsonscan instead of by encoding/json's reflection.
//
// The result is encoding/json's, field for field (FuzzDecode and TestDecode_AgreesWithEncodingJSON
// check it): the same syntax is accepted and refused, a duplicated key keeps the last value
// (objects merge into the earlier one), null clears data and attributes and leaves strings and
// numbers as they were, an attribute's null value is "", and a string with escapes or non-ASCII
// bytes is unquoted by encoding/json itself. Two things differ, on purpose, and Pub/Sub sends
// neither: a key that matches a field only when case is ignored (`MessageID`, or `ſubscription`
// by Unicode folding) is ignored, where encoding/json took it; and data must be base64 text,
// where encoding/json also took an array of byte values.

// envelope is the push body: {"message":{...},"subscription":"...","deliveryAttempt":N}.
type envelope struct {
	message         *message
	subscription    string
	deliveryAttempt int
}

type message struct {
	data        []byte
	attributes  map[string]string
	messageID   string
	messageID2  string // message_id, the same id under its other name
	publishTime string
}

// parseEnvelope reads body as one JSON object and keeps the fields of a push envelope.
func parseEnvelope(body []byte) (envelope, error) {
	s := jsonscan.New(body)
	var env envelope
	err := s.Object(func(key []byte) error {
		switch string(key) {
		case "message":
			if s.Null() {
				env.message = nil
				return nil
			}
			if env.message == nil {
				env.message = &message{}
			}
			return s.Object(func(key []byte) error { return messageField(s, env.message, key) })
		case "subscription":
			return s.StringInto(&env.subscription)
		case "deliveryAttempt":
			return s.IntInto(&env.deliveryAttempt)
		}
		return s.Skip()
	})
	if err != nil {
		return envelope{}, err
	}
	if err := s.End(); err != nil {
		return envelope{}, err
	}
	return env, nil
}

func messageField(s *jsonscan.Scanner, m *message, key []byte) error {
	switch string(key) {
	case "data":
		if s.Null() {
			m.data = nil
			return nil
		}
		text, err := s.Text()
		if err != nil {
			return err
		}
		m.data = make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Decode(m.data, text)
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		m.data = m.data[:n]
		return nil
	case "attributes":
		if s.Null() {
			m.attributes = nil
			return nil
		}
		if m.attributes == nil {
			m.attributes = map[string]string{}
		}
		return s.Object(func(key []byte) error {
			var v string
			if err := s.StringInto(&v); err != nil {
				return err
			}
			m.attributes[string(key)] = v
			return nil
		})
	case "messageId":
		return s.StringInto(&m.messageID)
	case "message_id":
		return s.StringInto(&m.messageID2)
	case "publishTime":
		return s.StringInto(&m.publishTime)
	}
	return s.Skip()
}
