package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"

	"github.com/sealpost/sealpost/internal/safetext"
)

// members describes the members known in one JSON object: each name maps to
// what is known inside that member's value (objects, or arrays of objects).
type members map[string]members

var (
	fileMembers     = members{"path": nil, "size": nil, "sha256": nil}
	receiptMembers  = members{"for": nil, "ciphertext_sha256": nil, "status": nil, "code": nil, "reason": nil}
	logHeadMembers  = members{"seq": nil, "sha256": nil}
	manifestMembers = members{
		"format": nil, "id": nil, "kind": nil, "sender": nil, "recipient": nil,
		"created": nil, "reference": nil, "in_reply_to": nil,
		"files": fileMembers, "receipt": receiptMembers, "log_head": logHeadMembers,
	}
)

// maxDepth bounds the nesting of JSON values checkMembers walks.
const maxDepth = 32

// checkMembers closes the gaps encoding/json leaves open: it matches member
// names case-insensitively and lets a repeated member silently win. It refuses
// members that repeat (under Unicode case folding, as encoding/json matches)
// and known members spelled in another case, at every level.
func checkMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkValue(dec, manifestMembers, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data follows the top-level object")
	}
	return nil
}

// walkValue reads one JSON value from dec, checking the member names of objects against known.
func walkValue(dec *json.Decoder, known members, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("values nest deeper than %d levels", maxDepth)
	}
	tok, err := token(dec)
	if err != nil {
		return err
	}
	if depth == 0 && tok != json.Delim('{') {
		return errors.New("the top-level value is not an object")
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, known, depth)
	case json.Delim('['):
		for dec.More() {
			if err := walkValue(dec, known, depth+1); err != nil {
				return err
			}
		}
		_, err := token(dec)
		return err
	}
	return nil
}

// walkObject reads the members of an object whose '{' has been read.
func walkObject(dec *json.Decoder, known members, depth int) error {
	seen := map[string]string{}
	for dec.More() {
		tok, err := token(dec)
		if err != nil {
			return err
		}
		name := tok.(string)
		key := foldCase(name)
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("member %s appears twice (as %s and %s)", safetext.Quote(name), safetext.Quote(prev), safetext.Quote(name))
		}
		seen[key] = name
		for k := range known {
			if k != name && foldCase(k) == key {
				return fmt.Errorf("member %s must be spelled %q", safetext.Quote(name), k)
			}
		}
		if err := walkValue(dec, known[name], depth+1); err != nil {
			return err
		}
	}
	_, err := token(dec)
	return err
}

// foldCase maps s so that foldCase(a) == foldCase(b) exactly when
// strings.EqualFold(a, b): each rune becomes the least rune of its simple
// case-folding orbit.
func foldCase(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		out = append(out, least)
	}
	return string(out)
}

// token reads the next JSON token, describing a syntax error.
func token(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("does not parse as JSON: it ends early")
	}
	if err != nil {
		return nil, fmt.Errorf("does not parse as JSON: %s", safetext.Cut(err.Error(), maxErrText))
	}
	return tok, nil
}
