package exchange_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/testworld"
)

// TestNoReceiptsPartner: we configure the partner with `receipts: none`
// and a receipt_due of 1s; the partner expects ours as usual. However late
// it is, nothing we sent is awaiting a receipt or receipt-overdue (our
// request still awaits its response), the partner's side still sees its
// own bundle overdue, and the receipt the partner sends anyway is recorded.
func TestNoReceiptsPartner(t *testing.T) {
	t.Parallel()
	srv := loopbackServer(t)
	w := &world{t: t, srv: srv, sides: map[string]*side{}}
	parties := testworld.New(t, srv.world(), testworld.Options{Extra: "receipt_due: 1s\n",
		PartyExtra: map[string]string{us: "receipts: none\n"}}, us, uk)
	for _, id := range []string{us, uk} {
		p := parties[id]
		s := &side{id: id, dir: p.Dir, cfgPath: p.Config, fp: p.Fingerprint}
		w.sides[id] = s
		w.start(s)
	}
	if !w.sides[us].cfg.Partners[uk].NoReceipts || w.sides[uk].cfg.Partners[us].NoReceipts {
		t.Fatal("receipts: none was not read for us's partner only")
	}
	// The clock both sides read moves an hour on (far past receipt_due)
	// after each run, so that dues pass without waiting for them.
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	w.sides[us].eng.SetClock(clock)
	w.sides[uk].eng.SetClock(clock)
	run := func(id, peer string) exchange.Result {
		t.Helper()
		res := w.run(id, peer)
		offset.Add(int64(time.Hour))
		return res
	}

	w.send(us, uk, "US-1", "", map[string]string{"a.txt": "from us"})
	w.send(uk, us, "UK-1", "", map[string]string{"b.txt": "from the UK"})
	run(us, uk)
	sent := w.records(us, audit.EvUploaded)
	if len(sent) != 1 {
		t.Fatalf("uploaded records %+v, want one", sent)
	}
	checkNoReceiptAwaited := func(when string) {
		t.Helper()
		st, err := w.sides[us].eng.Status(uk)
		must(t, err)
		if st[0].Receipts != "none" || len(st[0].AwaitingReceipt) != 0 {
			t.Fatalf("%s: status receipts %q, awaiting receipt %+v; want none and nothing", when, st[0].Receipts, st[0].AwaitingReceipt)
		}
		if len(st[0].AwaitingResponse) != 1 || st[0].AwaitingResponse[0].Bundle != sent[0].Bundle || st[0].AwaitingResponse[0].Overdue {
			t.Fatalf("%s: awaiting response %+v, want our request, not overdue", when, st[0].AwaitingResponse)
		}
	}
	checkNoReceiptAwaited("before the partner answers")

	// The partner files our request, sends its receipt anyway and pushes
	// its own request, which it expects a receipt for.
	if res := run(uk, us); res.Filed != 1 {
		t.Fatalf("partner filed %d, want 1", res.Filed)
	}
	st, err := w.sides[uk].eng.Status(us)
	must(t, err)
	if st[0].Receipts != "expected" || len(st[0].AwaitingReceipt) != 1 || !st[0].AwaitingReceipt[0].Overdue {
		t.Fatalf("partner's status: receipts %q, awaiting receipt %+v; want expected and one overdue", st[0].Receipts, st[0].AwaitingReceipt)
	}

	if res := run(us, uk); res.Receipts != 1 || res.Filed != 1 {
		t.Fatalf("us: receipts %d filed %d, want 1 and 1", res.Receipts, res.Filed)
	}
	got := w.records(us, audit.EvReceipt)
	if len(got) != 1 || got[0].Outcome != audit.OutcomeOK || got[0].InReplyTo != sent[0].Bundle {
		t.Fatalf("receipt records %+v, want the partner's receipt for %s recorded", got, sent[0].Bundle)
	}
	checkNoReceiptAwaited("after its receipt came")
}
