package demo

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemo runs the whole demo and checks its story: both requests sent,
// filed, receipted and answered, and both logs verified.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := Run(t.Context(), t.TempDir(), &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"us-cbp: pushed 2, filed 0",
		"uk-hmrc: pushed 2, filed 2",
		"us-cbp: pushed 2, filed 2, receipts received 2",
		"uk-hmrc: pushed 0, filed 0, receipts received 2",
		"us-cbp: inbox 2, awaiting receipt 0, awaiting response 0, quarantine 0; log verified",
		"Demo complete",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
