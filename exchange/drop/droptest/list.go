package droptest

import (
	"os"
	"slices"
	"testing"
)

// testList: final names only, sorted, with size and time; hidden and other
// names ignored silently; hostile names, links and folders under final
// names skipped with a reason.
func testList(t *testing.T, w world) {
	w.mkdir("pull", "pull/folder.pgp")
	w.write("pull/b_request.pgp", []byte("bee"))
	w.write("pull/a_response.asc", nil)
	w.write("pull/target.txt", []byte("not ours"))
	for _, ignored := range []string{".b_request.pgp.part", ".hidden.pgp", "notes.txt", "a.pgp.part"} {
		w.write("pull/"+ignored, []byte("ignored"))
	}
	hostile := "bell\x07.pgp"
	w.write("pull/"+hostile, []byte("hostile"))
	if err := os.Symlink("target.txt", w.disk("pull/link.pgp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", w.disk("pull/dangling.asc")); err != nil {
		t.Fatal(err)
	}

	entries, skipped := w.list("pull")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if want := []string{"a_response.asc", "b_request.pgp"}; !slices.Equal(names, want) {
		t.Fatalf("List returned %q, want %q", names, want)
	}
	fi, err := os.Stat(w.disk("pull/b_request.pgp"))
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[1]; e.Size != 3 || !sameSecond(e.ModTime, fi.ModTime()) {
		t.Errorf("entry %+v, want size 3 and the file's time %s", e, fi.ModTime())
	}
	reasons := map[string]string{}
	for _, s := range skipped {
		reasons[s.Name] = s.Reason
	}
	for _, name := range []string{hostile, "link.pgp", "dangling.asc", "folder.pgp"} {
		if reasons[name] == "" {
			t.Errorf("%q is not skipped with a reason: %+v", name, skipped)
		}
	}
	if len(skipped) != 4 {
		t.Errorf("skipped %+v, want exactly the 4 refused names", skipped)
	}
}
