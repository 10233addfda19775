package localdrop

import (
	"testing"

	"github.com/sealpost/sealpost/exchange/drop/droptest"
)

// TestConformance runs the transport suite every transport passes.
func TestConformance(t *testing.T) {
	droptest.Run(t, func(t *testing.T) (droptest.Transport, string) {
		root := t.TempDir()
		d, err := Open(Config{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		return d, root
	})
}
