package crypto

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// One Self and one Peer serve concurrent Seal and Open calls (the engine
// runs partners in parallel); run with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	for _, algo := range []KeyAlgo{KeyEd25519, KeyRSA4096} {
		t.Run(string(algo), func(t *testing.T) {
			concurrentUse(t, cachedParty(t, "us-"+string(algo), algo), cachedParty(t, "them-"+string(algo), algo))
		})
	}
}

func concurrentUse(t *testing.T, us, them *party) {
	toThem, fromThem := them.peer(t), them.peer(t)
	msg := sealBytes(t, them.self, us.peer(t), SealOptions{}, []byte("hello"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var buf bytes.Buffer
			w, err := Seal(&buf, us.self, toThem, SealOptions{})
			if err == nil {
				_, err = w.Write([]byte("x"))
			}
			if err == nil {
				err = w.Close()
			}
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			m, err := Open(bytes.NewReader(msg), us.self, fromThem, OpenOptions{})
			if err == nil {
				_, err = io.ReadAll(m)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
