package exchange_test

import (
	"os"
	"testing"

	"github.com/sealpost/sealpost/internal/testworld"
)

// TestMain removes the sealpost binaries the tests built (once each).
func TestMain(m *testing.M) { os.Exit(testworld.Main(m)) }
