package audit

// Story is everything the log says about one bundle, in log order: its own
// records (queued, claimed, uploaded or downloaded, filed, refused), the
// receipts and responses that answer it, and the records of the file it
// travelled as (found by the file's name).
type Story struct {
	Bundle  string
	Records []Record
}

// storyByFile are the events that name a bundle only by its file.
var storyByFile = map[string]bool{EvQueued: true, EvDownloaded: true, EvRejected: true,
	"bundle.duplicate": true, "remote.skipped": true}

// StoryOf reads the log in dir for the story of bundle id. It streams the
// log twice at most (the second time for records that name the bundle's
// files only, which come before the records that name the bundle), keeping
// only the bundle's records. A bundle the log never mentions has a story
// without records.
func StoryOf(dir, id string) (Story, error) {
	s := Story{Bundle: id}
	names := map[string]bool{}
	seen := map[int64]bool{}
	err := Scan(dir, func(r Record) error {
		if r.Bundle != id && r.InReplyTo != id {
			return nil
		}
		s.Records = append(s.Records, r)
		seen[r.Seq] = true
		if r.Bundle == id && r.File != "" {
			names[r.File] = true
		}
		return nil
	})
	if err != nil || len(names) == 0 {
		return s, err
	}
	var all []Record
	err = Scan(dir, func(r Record) error {
		switch {
		case seen[r.Seq]:
			all = append(all, r)
		case storyByFile[r.Event] && names[r.File]:
			all = append(all, r)
		}
		return nil
	})
	s.Records = all
	return s, err
}
